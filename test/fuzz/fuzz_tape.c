/*
 * libFuzzer target: a differential test of the tape (src/tape.c) against
 * json-c behind src/json.c.  For every input:
 *
 * 1. cf_tape_try_parse and cf_tape_parse (an ERROR: a longjmp here) must
 *    agree with each other, and with cfj_parse, on whether it is JSON, but
 *    for the forms json-c takes and RFC 8259 has not (see repair() below):
 *    a text json-c takes and the tape refuses must hold one of them, and
 *    with each made strict the tape must take it and agree on it.
 *
 * 2. When both take it, the two values are walked together and any
 *    disagreement is an abort(): types; strings byte for byte, escapes
 *    decoded (cfn_cstring, cfn_string_view, cfn_escaped); numbers as text
 *    (cfn_number_text against json-c's); booleans; arrays element by
 *    element (cfn_first/cfn_skip/cfn_end, the cfn_foreach_ macros,
 *    cfn_array_get, cfn_count); objects, where
 *    json-c keeps one member per key (the last) and the tape all of them:
 *    each json-c member against the tape's last member of its key, the
 *    same set of keys, cfn_get finding the last member of a key, dotted
 *    paths too, and cfn_find_paths finding what cfn_get finds.  Every
 *    node's text (cfn_text) must parse with cfj_parse to the same value,
 *    and cfn_serialize must write what cfj_serialize does.
 *
 * The differences allowed, each narrowly and where it is checked: json-c's
 * lenient numbers, single-quoted keys and UTF-8 (L1-L3, at repair()); keys
 * with a \u0000, which json-c cuts at the NUL (at compare_object()); and
 * json.c's "<big integer>e0" written without its "e0" (at is_unmarked()).
 *
 * 3. After every input, json-c must read a probe text as it always does:
 *    json.c keeps one tokener for all parses, and nothing of a text may
 *    stay in it to change the next one.
 */
#include "postgres.h"

#include "mb/pg_wchar.h"

#include "cf_compat.h"
#include "cf_tape.h"
#include "pg_shim.h"

/* the C library's: libpgport is not linked in */
#undef fprintf
#undef vfprintf
#undef snprintf
#undef qsort

/* Nesting json-c refuses: a value inside this many containers. */
#define JSONC_MAX_NESTING (CFJ_MAX_DEPTH)

/* Lookups with cfn_get per object, so that a large object stays linear. */
#define MAX_LOOKUPS 64

/* The text the tape read, for the bounds of its nodes and for messages. */
static const char *doc_text;
static size_t doc_len;
static const char *stage = "";

static void
print_text(const char *text, size_t len, size_t max)
{
	fputc('"', stderr);
	for (size_t i = 0; i < len && i < max; i++)
	{
		unsigned char c = (unsigned char) text[i];

		if (c == '"' || c == '\\')
			fprintf(stderr, "\\%c", c);
		else if (c >= 0x20 && c < 0x7f)
			fputc(c, stderr);
		else
			fprintf(stderr, "\\%03o", c);
	}
	fputc('"', stderr);
	if (len > max)
		fprintf(stderr, "...");
}

pg_noreturn static void fail(const char *fmt,...) pg_attribute_printf(1, 2);

static void
fail(const char *fmt,...)
{
	va_list		args;

	fprintf(stderr, "\n==== tape and json-c disagree (%s): ", stage);
	va_start(args, fmt);
	vfprintf(stderr, fmt, args);
	va_end(args);
	fprintf(stderr, "\n==== in the text of %zu bytes (as a C string): ", doc_len);
	print_text(doc_text, doc_len, 4000);
	fprintf(stderr, "\n");
	abort();
}

static const char *
type_name(CfJsonType type)
{
	return cfj_type_name(type);
}

/* ---------------------------------------------------------------------
 * Calls that may raise an ERROR, caught: the detail is shim_error_detail.
 * --------------------------------------------------------------------- */

/* cfj_parse: false when it refuses (*doc is NULL for a JSON null too) */
static bool
jsonc_parse(const char *text, size_t len, CfJson **doc)
{
	sigjmp_buf	outer;
	volatile bool ok = false;

	memcpy(outer, shim_error_jump, sizeof(sigjmp_buf));
	*doc = NULL;
	if (sigsetjmp(shim_error_jump, 0) == 0)
	{
		*doc = cfj_parse(text, len, CurrentMemoryContext);
		ok = true;
	}
	memcpy(shim_error_jump, outer, sizeof(sigjmp_buf));
	return ok;
}

static const CfNode *
tape_parse_raising(CfTape *tape, const char *text, size_t len, bool validated)
{
	sigjmp_buf	outer;
	const CfNode *volatile root = NULL;

	memcpy(outer, shim_error_jump, sizeof(sigjmp_buf));
	if (sigsetjmp(shim_error_jump, 0) == 0)
	{
		root = cf_tape_parse(tape, text, len, validated);
		if (root == NULL)
			fail("cf_tape_parse returned NULL instead of raising an ERROR");
	}
	memcpy(shim_error_jump, outer, sizeof(sigjmp_buf));
	return root;
}

/* cfn_serialize: NULL when it raises */
static char *
tape_serialize(const CfNode *node)
{
	sigjmp_buf	outer;
	char	   *volatile text = NULL;

	memcpy(outer, shim_error_jump, sizeof(sigjmp_buf));
	if (sigsetjmp(shim_error_jump, 0) == 0)
		text = cfn_serialize(node);
	memcpy(shim_error_jump, outer, sizeof(sigjmp_buf));
	return text;
}

/* Both ways of parsing into a tape, which must agree; the second's root. */
static const CfNode *
tape_parse(CfTape *tape, const char *text, size_t len)
{
	bool		tried = cf_tape_try_parse(tape, text, len) != NULL;
	const CfNode *root = tape_parse_raising(tape, text, len, false);

	if (tried != (root != NULL))
		fail("cf_tape_try_parse %s, cf_tape_parse %s (%s)",
			 tried ? "takes it" : "refuses it", root ? "takes it" : "refuses it",
			 shim_error_detail);
	return root;
}

/* ---------------------------------------------------------------------
 * The tape's order, in one place: a container's contents follow it (an
 * object's as key, value, key, value...), cfn_skip() is the node after a
 * value and its contents, and cfn_end() where a container's contents end.
 * --------------------------------------------------------------------- */

/* The first of a node's children (in an object, its first key), or NULL. */
static const CfNode *
child_of(const CfNode *parent)
{
	return cfn_first(parent) < cfn_end(parent) ? cfn_first(parent) : NULL;
}

/* The child of parent after child (after a key, its value), or NULL. */
static const CfNode *
next_in(const CfNode *parent, const CfNode *child)
{
	const CfNode *next = cfn_skip(child);
	size_t		len;

	if (next <= child || next > cfn_end(parent))
		fail("a child's span (%td nodes) reaches out of its container's",
			 cfn_skip(child) - child);
	if (next == cfn_end(parent))
		return NULL;
	if (cfn_text(next, &len) <= cfn_text(child, &len))
		fail("a node's text is not after its sibling's");
	return next;
}

/* The deepest nesting on a tape: the root is at 0. */
static int
tape_depth(const CfNode *t, int depth)
{
	int			deepest = depth;

	for (const CfNode *c = child_of(t); c != NULL; c = next_in(t, c))
	{
		int			below = tape_depth(c, depth + 1);	/* Max() would walk twice */

		deepest = Max(deepest, below);
	}
	return deepest;
}

/* ---------------------------------------------------------------------
 * Numbers and serializations
 * --------------------------------------------------------------------- */

/* As in json.c: an integer literal json-c would clamp (beyond 64 bits). */
static bool
is_big_integer(const char *literal, size_t len)
{
	bool		negative = (literal[0] == '-');
	const char *digits = literal + negative;
	size_t		ndigits = len - negative;
	const char *limit = negative ? "9223372036854775808" : "18446744073709551615";
	size_t		limit_len = strlen(limit);

	if (ndigits == 0 || strspn(digits, "0123456789") < ndigits)
		return false;
	while (ndigits > 1 && digits[0] == '0')
	{
		digits++;
		ndigits--;
	}
	return ndigits > limit_len ||
		(ndigits == limit_len && memcmp(digits, limit, ndigits) > 0);
}

/*
 * Allowed: json.c writes a number "<integer beyond 64 bits>e0" as that
 * integer when the same document has an integer beyond 64 bits (it marks
 * those with "e0" for json-c, and unmark_big_integers() takes the "e0" off
 * every double that looks like one of its marks: json.c says so); the tape
 * keeps the text as written.  The value is the same.
 */
static bool
is_unmarked(const char *tape, size_t tlen, const char *jsonc, size_t jlen)
{
	return tlen == jlen + 2 && memcmp(tape, jsonc, jlen) == 0 &&
		memcmp(tape + jlen, "e0", 2) == 0 && is_big_integer(jsonc, jlen);
}

static bool
same_number(const char *tape, const char *jsonc)
{
	return strcmp(tape, jsonc) == 0 ||
		is_unmarked(tape, strlen(tape), jsonc, strlen(jsonc));
}

/*
 * A serialization with every "<integer beyond 64 bits>e0" written without
 * its "e0", so that the allowance above does not tell two texts apart.
 * The text is json-c's, so strict JSON.
 */
static char *
normalize(const char *text)
{
	size_t		len = strlen(text);
	char	   *out = palloc(len + 1);
	char	   *o = out;
	size_t		i = 0;

	while (i < len)
	{
		if (text[i] == '"')
		{
			*o++ = text[i++];
			while (i < len && text[i] != '"')
			{
				if (text[i] == '\\' && i + 1 < len)
					*o++ = text[i++];
				*o++ = text[i++];
			}
			if (i < len)
				*o++ = text[i++];
		}
		else if (text[i] == '-' || (text[i] >= '0' && text[i] <= '9'))
		{
			size_t		start = i;

			while (i < len && strchr("0123456789+-.eE", text[i]) != NULL)
				i++;
			if (i - start > 2 && memcmp(text + i - 2, "e0", 2) == 0 &&
				is_big_integer(text + start, i - start - 2))
			{
				memcpy(o, text + start, i - start - 2);
				o += i - start - 2;
			}
			else
			{
				memcpy(o, text + start, i - start);
				o += i - start;
			}
		}
		else
			*o++ = text[i++];
	}
	*o = '\0';
	return out;
}

/* ---------------------------------------------------------------------
 * json-c's leniencies, made strict.
 *
 * json-c (0.16, JSON_TOKENER_STRICT) takes some texts RFC 8259 refuses; the
 * tape refuses them, deliberately.  repair() writes a text json-c took with
 * each of those forms in its strict equivalent, and nothing else changed:
 *
 * L1, numbers: json-c reads a number as the longest run of [0-9eE.+-] and
 *     hands it to strtoll/strtoull or, with a '.' or an 'e', to strtod,
 *     which must read all of it; its only check of leading zeros is on a
 *     non-negative integer other than 0.  So it takes leading zeros in
 *     doubles, negative integers and zero ("01.5", "00e1", "-01", "00"),
 *     a fraction without digits ("1.", "1.e5") and a minus without integer
 *     digits ("-.5").  Repaired: redundant zeros dropped, a missing digit
 *     written as 0 ("1.0", "-0.5").
 * L2, single-quoted keys: json-c's object_field_start state takes a key in
 *     ' quotes even in strict mode (only values must be in double quotes).
 *     Repaired: in double quotes, a " inside escaped.
 * L3, UTF-8: json-c's check (json_tokener_validate_utf8) only counts
 *     continuation bytes after a lead byte, so it takes overlong forms
 *     (C0 80, E0 80 80), surrogates (ED A0 80) and code points beyond
 *     U+10FFFF (F4 90 80 80, F5..F7 leads), which pg_utf8_islegal refuses.
 *     Repaired: each byte of such a sequence written as '?'.
 * --------------------------------------------------------------------- */

static void
repair_number(const char *s, size_t n, char **o)
{
	size_t		i = 0;
	size_t		digits;

	if (s[i] == '-')
		*(*o)++ = s[i++];
	digits = 0;
	while (i + digits < n && s[i + digits] >= '0' && s[i + digits] <= '9')
		digits++;
	if (digits == 0)
		*(*o)++ = '0';
	else
	{
		size_t		zeros = 0;

		while (zeros < digits - 1 && s[i + zeros] == '0')
			zeros++;
		memcpy(*o, s + i + zeros, digits - zeros);
		*o += digits - zeros;
	}
	i += digits;
	if (i < n && s[i] == '.')
	{
		*(*o)++ = s[i++];
		digits = 0;
		while (i + digits < n && s[i + digits] >= '0' && s[i + digits] <= '9')
			digits++;
		if (digits == 0)
			*(*o)++ = '0';
		memcpy(*o, s + i, digits);
		*o += digits;
		i += digits;
	}
	/* the exponent, and anything else json-c took, as it is */
	memcpy(*o, s + i, n - i);
	*o += n - i;
}

static int
utf8_sequence_length(unsigned char c)
{
	if ((c & 0xe0) == 0xc0)
		return 2;
	if ((c & 0xf0) == 0xe0)
		return 3;
	if ((c & 0xf8) == 0xf0)
		return 4;
	return 1;
}

/* The text, json-c's leniencies made strict (*out_len: its length). */
static char *
repair(const char *text, size_t len, size_t *out_len)
{
	char	   *out = palloc(2 * len + 2);
	char	   *o = out;
	size_t		i = 0;

	while (i < len)
	{
		unsigned char c = (unsigned char) text[i];

		if (c == '"' || c == '\'')
		{
			unsigned char quote = c;

			*o++ = '"';
			i++;
			while (i < len && (unsigned char) text[i] != quote)
			{
				unsigned char b = (unsigned char) text[i];

				if (b == '\\')
				{
					*o++ = text[i++];
					if (i < len)
						*o++ = text[i++];
				}
				else if (b == '"')	/* in a single-quoted key */
				{
					*o++ = '\\';
					*o++ = text[i++];
				}
				else if (b >= 0x80)
				{
					int			l = utf8_sequence_length(b);

					if ((size_t) l > len - i)
						l = len - i;	/* cut short: json-c refused it */
					else if (!pg_utf8_islegal((const unsigned char *) text + i, l))
					{
						memset(o, '?', l);
						o += l;
						i += l;
						continue;
					}
					memcpy(o, text + i, l);
					o += l;
					i += l;
				}
				else
					*o++ = text[i++];
			}
			if (i < len)
			{
				*o++ = '"';
				i++;
			}
		}
		else if (c == '-' || (c >= '0' && c <= '9'))
		{
			size_t		start = i;

			while (i < len && strchr("0123456789+-.eE", text[i]) != NULL && text[i] != '\0')
				i++;
			repair_number(text + start, i - start, &o);
		}
		else
			*o++ = text[i++];
	}
	*out_len = o - out;
	return out;
}


/* ---------------------------------------------------------------------
 * Path sets: cfn_find_paths must find what cfn_get finds, path by path.
 * --------------------------------------------------------------------- */

#define MAX_PATHS 24

/*
 * Paths made of an object's keys: a key (a dotted one names a path
 * through objects, as in cfn_get), a key and the first key of its value,
 * one that ends in an empty segment, one repeated, one missing.
 */
static int
paths_of(const CfNode *object, const char **paths)
{
	int			n = 0;
	const CfNode *value;

	for (const CfNode *key = child_of(object); key != NULL && n < MAX_PATHS - 5;
		 key = next_in(object, value))
	{
		size_t		len;
		char	   *name = cfn_cstring(key, &len);

		value = next_in(object, key);
		if (value == NULL)
			fail("a member's key has no value after it");
		if (strlen(name) != len)
			continue;			/* a \u0000: no path names it */
		paths[n++] = name;
		if (cfn_type(value) == CFJ_OBJECT && cfn_count(value) > 0)
		{
			char	   *inner = cfn_cstring(child_of(value), &len);

			if (strlen(inner) == len)
				paths[n++] = psprintf("%s.%s", name, inner);
		}
	}
	if (n > 0)
	{
		paths[n] = paths[0];
		paths[n + 1] = psprintf("%s.", paths[0]);
		n += 2;
	}
	paths[n++] = "";
	paths[n++] = "missing.path";
	return n;
}

/* cfn_find_paths of a compiled set in object, against cfn_get. */
static void
check_paths(const CfNode *object, const char **paths, int npaths, CfPathSet *set)
{
	const CfNode *values[MAX_PATHS];

	for (int i = 0; i < npaths; i++)
		values[i] = (const CfNode *) &values;	/* must be written */
	cfn_find_paths(object, set, values);
	for (int i = 0; i < npaths; i++)
		if (values[i] != cfn_get(object, paths[i]))
			fail("cfn_find_paths finds %s at \"%s\", cfn_get %s",
				 values[i] == (const CfNode *) &values ? "nothing written"
				 : values[i] ? type_name(cfn_type(values[i])) : "nothing",
				 paths[i], cfn_get(object, paths[i]) ? type_name(cfn_type(cfn_get(object, paths[i]))) : "nothing");
}

/*
 * The paths of an object's keys compiled once and looked up in it and in
 * the children of parent, as a scan looks a table's columns up in every
 * item of a page.
 */
static void
check_path_set(const CfNode *object, const CfNode *parent)
{
	const char *paths[MAX_PATHS];
	int			npaths = paths_of(object, paths);
	CfPathSet  *set = cfn_compile_paths(paths, npaths);

	check_paths(object, paths, npaths, set);
	for (const CfNode *other = child_of(parent); other != NULL; other = next_in(parent, other))
		check_paths(other, paths, npaths, set);
}

/* ---------------------------------------------------------------------
 * Strings: a third reading of the escapes, json-c's own algorithm
 * (json_tokener.c, json_tokener_state_escape_unicode and the two states
 * after a high surrogate), to check the tape's against, and to know
 * what json-c reads where the two must differ.
 *
 * Allowed: json-c up to 0.18 tells a surrogate by the low 16 bits of a
 * code point (IS_HIGH_SURROGATE(uc) is ((uc) & 0xFC00) == 0xD800), also
 * once a pair is decoded, so a pair for U+xD800..U+xDFFF (x = 1..10) is
 * read as a surrogate again: "\ud836\ude10" (U+1DA10) is U+FFFD to it, or
 * combines with a low surrogate after it.  json-c 0.19 fixed it (commit
 * 7974657, json-c/json-c#893); whether the json-c linked has the bug is
 * found at start (jsonc_pair_bug).  The tape reads such a pair right.
 * --------------------------------------------------------------------- */

static bool jsonc_pair_bug;

static bool
is_surrogate_half(pg_wchar uc, pg_wchar half, bool bug)
{
	return (uc & (bug ? 0xFC00 : 0xFFFFFC00)) == half;
}

static char *
put_utf8(char *o, pg_wchar uc)
{
	if (uc < 0x110000)
		return o + pg_utf_mblen(unicode_to_utf8(uc, (unsigned char *) o));
	memcpy(o, "\xef\xbf\xbd", 3);
	return o + 3;
}

static pg_wchar
hex4(const char *p)
{
	pg_wchar	uc = 0;

	for (int i = 0; i < 4; i++)
		uc = (uc << 4) | (p[i] <= '9' ? p[i] - '0' : (p[i] | 0x20) - 'a' + 10);
	return uc;
}

/*
 * The contents of a string node's text as json-c reads them, with its
 * surrogate bug or without; *len: their bytes.
 */
static char *
jsonc_decode(const CfNode *t, bool bug, size_t *len)
{
	size_t		span_len;
	const char *s = cfn_text(t, &span_len) + 1;
	size_t		n = span_len - 2;
	char	   *out = palloc(n + 4);
	char	   *o = out;
	pg_wchar	high = 0;		/* a high surrogate waiting for its low one */
	size_t		i = 0;

	while (i < n)
	{
		pg_wchar	uc;

		if (high != 0 && !(s[i] == '\\' && i + 1 < n && s[i + 1] == 'u'))
		{
			/* _unicode_need_escape, _unicode_need_u: not a \u after it */
			o = put_utf8(o, 0xFFFD);
			high = 0;
		}
		if (s[i] != '\\')
		{
			*o++ = s[i++];
			continue;
		}
		if (s[i + 1] != 'u')
		{
			const char *from = "\"\\/bfnrt";
			const char *to = "\"\\/\b\f\n\r\t";

			*o++ = to[strchr(from, s[i + 1]) - from];
			i += 2;
			continue;
		}
		uc = hex4(s + i + 2);
		i += 6;
		if (high != 0)
		{
			if (is_surrogate_half(uc, 0xDC00, bug))
				uc = ((high & 0x3FF) << 10) + (uc & 0x3FF) + 0x10000;
			else
				o = put_utf8(o, 0xFFFD);
			high = 0;
		}
		if (uc >= 0x800 && is_surrogate_half(uc, 0xD800, bug))
			high = uc;
		else if (uc >= 0x800 && is_surrogate_half(uc, 0xDC00, bug))
			o = put_utf8(o, 0xFFFD);
		else
			o = put_utf8(o, uc);
	}
	if (high != 0)
		o = put_utf8(o, 0xFFFD);	/* the closing quote after it */
	*o = '\0';
	*len = o - out;
	return out;
}

/* json-c's reading of a string node: what cfj_string must give for it. */
static char *
jsonc_string(const CfNode *t, size_t *len)
{
	return jsonc_decode(t, jsonc_pair_bug, len);
}

/* Whether the json-c linked has the bug: at start, before any other parse. */
static void
find_jsonc_pair_bug(void)
{
	CfJson	   *j;
	size_t		len;
	const char *str;

	doc_text = "";
	doc_len = 0;
	stage = "json-c's reading of \"\\ud836\\ude10\"";
	if (!jsonc_parse("\"\\ud836\\ude10\"", 14, &j))
		fail("cfj_parse refuses \"\\ud836\\ude10\": %s", shim_error_detail);
	str = cfj_string(j, &len);
	if (len == 4 && memcmp(str, "\xf0\x9d\xa8\x90", 4) == 0)
		jsonc_pair_bug = false;
	else if (len == 3 && memcmp(str, "\xef\xbf\xbd", 3) == 0)
		jsonc_pair_bug = true;
	else
		fail("cfj_parse reads \"\\ud836\\ude10\" as %zu bytes neither U+1DA10 nor U+FFFD", len);
	shim_reset_arena();
}

int			LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	find_jsonc_pair_bug();
	return 0;
}

/* ---------------------------------------------------------------------
 * The walk
 * --------------------------------------------------------------------- */

static void compare(const CfNode *t, CfJson *j, int depth);

/* A node's text: inside the document, and what its type begins and ends with. */
static void
check_span(const CfNode *t)
{
	size_t		len;
	const char *span = cfn_text(t, &len);
	CfJsonType	type = cfn_type(t);

	if (span < doc_text || span > doc_text + doc_len || len > (size_t) (doc_text + doc_len - span))
		fail("a node's text (%zu bytes at %td) is outside the document", len, span - doc_text);
	if (len == 0)
		fail("a %s node has an empty text", type_name(type));
	switch (type)
	{
		case CFJ_NULL:
			if (len != 4 || memcmp(span, "null", 4) != 0)
				fail("a null node's text is %.*s", (int) len, span);
			break;
		case CFJ_BOOL:
			if (!(cfn_bool(t) ? len == 4 && memcmp(span, "true", 4) == 0
				  : len == 5 && memcmp(span, "false", 5) == 0))
				fail("a boolean %s has the text %.*s", cfn_bool(t) ? "true" : "false",
					 (int) len, span);
			break;
		case CFJ_NUMBER:
			if (!(span[0] == '-' || (span[0] >= '0' && span[0] <= '9')) ||
				span[len - 1] < '0' || span[len - 1] > '9')
				fail("a number's text is %.*s", (int) len, span);
			break;
		case CFJ_STRING:
			if (len < 2 || span[0] != '"' || span[len - 1] != '"')
				fail("a string's text is %.*s", (int) len, span);
			break;
		case CFJ_ARRAY:
			if (len < 2 || span[0] != '[' || span[len - 1] != ']')
				fail("an array's text is %.*s", (int) len, span);
			break;
		case CFJ_OBJECT:
			if (len < 2 || span[0] != '{' || span[len - 1] != '}')
				fail("an object's text is %.*s", (int) len, span);
			break;
	}
	if (type != CFJ_ARRAY && type != CFJ_OBJECT)
	{
		if (cfn_count(t) != 0 || child_of(t) != NULL || cfn_skip(t) != t + 1 || cfn_end(t) != t + 1)
			fail("a %s node has children", type_name(type));
		cfn_foreach_element(element, t)
			fail("cfn_foreach_element finds an element in a %s", type_name(type));
		cfn_foreach_member(key, t)
			fail("cfn_foreach_member finds a member in a %s", type_name(type));
		if (cfn_get(t, "a") != NULL || cfn_array_get(t, 0) != NULL)
			fail("a %s node has a member or an element", type_name(type));
	}
}

/* A string node's contents, every way the tape gives them; *len: bytes. */
static char *
tape_string(const CfNode *t, size_t *len)
{
	size_t		span_len;
	const char *span = cfn_text(t, &span_len);
	bool		backslash = memchr(span + 1, '\\', span_len - 2) != NULL;
	size_t		view_len;
	const char *view;
	char	   *str = cfn_cstring(t, len);

	if (cfn_escaped(t) != backslash)
		fail("cfn_escaped is %d for the string %.*s", cfn_escaped(t), (int) span_len, span);
	if (str[*len] != '\0')
		fail("cfn_cstring's string is not NUL-terminated");
	view = cfn_string_view(t, &view_len);
	if (view_len != *len || memcmp(view, str, *len) != 0)
		fail("cfn_string_view and cfn_cstring differ for %.*s", (int) span_len, span);
	if (!backslash && (view != span + 1 || view_len != span_len - 2))
		fail("cfn_string_view of an unescaped string is not its text");
	if (backslash && view_len > span_len - 2)
		fail("an unescaped string is longer than its escaped text");
	{
		size_t		want_len;
		char	   *want = jsonc_decode(t, false, &want_len);

		if (want_len != *len || memcmp(want, str, *len) != 0)
			fail("the tape reads the string %.*s as %zu bytes, json-c's algorithm as %zu, or differs",
				 (int) Min(span_len, 200), span, *len, want_len);
	}
	return str;
}

/* The node's text parses to the same value, and cfn_serialize writes it. */
static void
check_text(const CfNode *t, CfJson *j)
{
	size_t		len;
	const char *span = cfn_text(t, &len);
	CfJson	   *again;
	char	   *want = normalize(cfj_serialize(j));
	char	   *got;

	if (!jsonc_parse(span, len, &again))
		fail("cfj_parse refuses the text of a %s node, %.*s: %s",
			 type_name(cfn_type(t)), (int) Min(len, 200), span, shim_error_detail);
	if (strcmp(normalize(cfj_serialize(again)), want) != 0)
		fail("the text of a node, %.*s, parses to %s, not %s",
			 (int) Min(len, 200), span, cfj_serialize(again), want);

	got = tape_serialize(t);
	if (got == NULL)
		fail("cfn_serialize of a %s node, %.*s, raises an ERROR: %s",
			 type_name(cfn_type(t)), (int) Min(len, 200), span, shim_error_detail);
	if (strcmp(normalize(got), want) != 0)
		fail("cfn_serialize writes %s, cfj_serialize %s", got, want);
}

/* json-c's value of a node's own text: for members json-c dropped */
static CfJson *
jsonc_of_text(const CfNode *t)
{
	size_t		len;
	const char *span = cfn_text(t, &len);
	CfJson	   *j;

	if (jsonc_parse(span, len, &j))
		return j;
	fail("cfj_parse refuses the text of a %s node, %.*s: %s",
		 type_name(cfn_type(t)), (int) Min(len, 200), span, shim_error_detail);
	return NULL;
}

static void
compare_array(const CfNode *t, CfJson *j, int depth)
{
	int			n = cfn_count(t);
	int			i = 0;
	const CfNode *element;
	const CfNode *probes[3] = {NULL, NULL, NULL};
	int			at[3];
	size_t		element_len;
	size_t		array_len;

	if (n != cfj_array_length(j))
		fail("an array of %d elements on the tape, %d in json-c", n, cfj_array_length(j));
	const CfNode **elements = palloc(Max(n, 1) * sizeof(CfNode *));
	int			k;

	if ((n == 0) != (child_of(t) == NULL))
		fail("an array of %d elements with%s a first child", n, child_of(t) ? "" : "out");
	at[0] = 0;
	at[1] = n / 2;
	at[2] = n - 1;
	for (element = child_of(t); element != NULL; element = next_in(t, element), i++)
	{
		if (i >= n)
			fail("an array of %d elements has more on the tape", n);
		elements[i] = element;
		if (cfn_text(element, &element_len) <= cfn_text(t, &array_len))
			fail("an element before its array");
		compare(element, cfj_array_get(j, i), depth + 1);
		for (int k = 0; k < 3; k++)
			if (at[k] == i)
				probes[k] = element;
		if (n <= 8 && cfn_array_get(t, i) != element)
			fail("cfn_array_get(%d) is not the %dth child", i, i);
	}
	if (i != n)
		fail("an array of %d elements has %d on the tape", n, i);
	k = 0;
	cfn_foreach_element(e, t)
	{
		if (k >= n || e != elements[k])
			fail("cfn_foreach_element's element %d is not the array's", k);
		k++;
	}
	if (k != n)
		fail("cfn_foreach_element finds %d elements of %d", k, n);
	for (int k = 0; k < 3 && n > 0; k++)
		if (cfn_array_get(t, at[k]) != probes[k])
			fail("cfn_array_get(%d) is not the child at %d", at[k], at[k]);
	if (cfn_array_get(t, -1) != NULL || cfn_array_get(t, n) != NULL)
		fail("cfn_array_get out of range is not NULL");
	/* a page of items: the first one's paths in each of them */
	for (element = child_of(t); element != NULL; element = next_in(t, element))
		if (cfn_type(element) == CFJ_OBJECT)
		{
			check_path_set(element, t);
			break;
		}
	if (cfn_get(t, "a") != NULL)
		fail("cfn_get finds a member in an array");
}

typedef struct Member
{
	const char *key;			/* contents, escapes decoded */
	size_t		len;			/* bytes of key (a \u0000 may be one) */
	const char *jkey;			/* the key as json-c reads it (jsonc_string) */
	size_t		jlen;			/* bytes of it json-c keeps: up to a NUL */
	const CfNode *value;
	int			index;			/* in the text */
	bool		compared;
} Member;

typedef struct JsoncMember
{
	const char *key;
	CfJson	   *value;
} JsoncMember;

typedef struct JsoncMembers
{
	JsoncMember *members;
	int			n;
	int			capacity;
} JsoncMembers;

static void
collect_jsonc_member(const char *key, CfJson *value, void *arg)
{
	JsoncMembers *jm = arg;

	if (jm->n == jm->capacity)
	{
		jm->capacity = Max(8, jm->capacity * 2);
		jm->members = jm->members ? repalloc(jm->members, jm->capacity * sizeof(JsoncMember))
			: palloc(jm->capacity * sizeof(JsoncMember));
	}
	jm->members[jm->n].key = key;
	jm->members[jm->n].value = value;
	jm->n++;
}

static int
compare_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
	int			c = memcmp(a, b, Min(alen, blen));

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* by the key json-c sees, then by place */
static int
by_jsonc_key(const void *a, const void *b)
{
	const Member *x = a;
	const Member *y = b;
	int			c = compare_bytes(x->jkey, x->jlen, y->jkey, y->jlen);

	return c != 0 ? c : x->index - y->index;
}

/* by the whole key, then by place */
static int
by_key(const void *a, const void *b)
{
	const Member *x = a;
	const Member *y = b;
	int			c = compare_bytes(x->key, x->len, y->key, y->len);

	return c != 0 ? c : x->index - y->index;
}

/*
 * Objects.  Allowed: json-c keeps a key as a C string (json_tokener.c
 * strdup()s obj_field_name), so a key with \u0000 in it is cut at the NUL:
 * {"a\u0000b":1} is {"a":1} to json-c, and {"a":1,"a\u0000b":2} has "a":2.
 * The tape keeps the whole key, so json-c's members are compared with the
 * tape's by the key up to its first NUL, and cfn_get (which takes a C
 * string, so can look up no key with a NUL) must find the last member of
 * the exact key.
 */
static void
compare_object(const CfNode *t, CfJson *j, int depth)
{
	int			n = cfn_count(t);
	Member	   *members = palloc(Max(n, 1) * sizeof(Member));
	JsoncMembers jm = {NULL, 0, 0};
	int			i = 0;
	int			distinct = 0;
	int			lookups = 0;
	bool		dotted = false;
	const CfNode *value;

	const CfNode **keys = palloc(Max(n, 1) * sizeof(CfNode *));
	int			k;

	if ((n == 0) != (child_of(t) == NULL))
		fail("an object of %d members with%s a first child", n, child_of(t) ? "" : "out");
	for (const CfNode *key = child_of(t); key != NULL; key = next_in(t, value), i++)
	{
		if (i >= n)
			fail("an object of %d members has more on the tape", n);
		if (cfn_type(key) != CFJ_STRING)
			fail("a member's key is a %s", type_name(cfn_type(key)));
		check_span(key);
		value = next_in(t, key);
		if (value == NULL)
			fail("a member's key has no value after it");
		keys[i] = key;
		members[i].key = tape_string(key, &members[i].len);
		members[i].jkey = jsonc_string(key, &members[i].jlen);
		members[i].jlen = strnlen(members[i].jkey, members[i].jlen);
		members[i].value = value;
		members[i].index = i;
		members[i].compared = false;
	}
	if (i != n)
		fail("an object of %d members has %d on the tape", n, i);
	k = 0;
	cfn_foreach_member(key, t)
	{
		if (k >= n || key != keys[k])
			fail("cfn_foreach_member's key %d is not the object's", k);
		k++;
	}
	if (k != n)
		fail("cfn_foreach_member finds %d members of %d", k, n);
	if (cfn_array_get(t, 0) != NULL)
		fail("cfn_array_get finds an element in an object");

	/* json-c's members against the tape's last of each key */
	cfj_object_foreach(j, collect_jsonc_member, &jm);
	qsort(members, n, sizeof(Member), by_jsonc_key);
	for (int k = 0; k < n; k++)
		if (k == 0 || compare_bytes(members[k - 1].jkey, members[k - 1].jlen,
									members[k].jkey, members[k].jlen) != 0)
			distinct++;
	if (distinct != jm.n)
		fail("an object of %d distinct keys on the tape, %d members in json-c", distinct, jm.n);
	for (int m = 0; m < jm.n; m++)
	{
		const char *key = jm.members[m].key;
		size_t		klen = strlen(key);
		int			lo = 0,
					hi = n;

		/* the first member at or after (key, place n) is past the last of key */
		while (lo < hi)
		{
			int			mid = (lo + hi) / 2;
			int			c = compare_bytes(members[mid].jkey, members[mid].jlen, key, klen);

			if (c <= 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo == 0 || compare_bytes(members[lo - 1].jkey, members[lo - 1].jlen, key, klen) != 0)
			fail("json-c has a member \"%s\" the tape has not", key);
		members[lo - 1].compared = true;
		compare(members[lo - 1].value, jm.members[m].value, depth + 1);
	}
	/* the members json-c dropped, against json-c's reading of their own text */
	for (int k = 0; k < n; k++)
		if (!members[k].compared)
			compare(members[k].value, jsonc_of_text(members[k].value), depth + 1);

	/* cfn_get: the last member of a key, and dotted paths through objects */
	qsort(members, n, sizeof(Member), by_key);
	for (int k = 0; k < n; k++)
	{
		const Member *last = &members[k];
		const CfNode *found;

		if (k + 1 < n && compare_bytes(last->key, last->len, members[k + 1].key, members[k + 1].len) == 0)
			continue;			/* not the last of its key */
		if (last->jlen != last->len || memchr(last->key, '.', last->len) != NULL)
			continue;			/* a NUL or a dot: no path names it */
		if (lookups++ >= MAX_LOOKUPS && k != n - 1)
			continue;
		found = cfn_get(t, last->key);
		if (found != last->value)
			fail("cfn_get(\"%s\") finds %s the last member of that key",
				 last->key, found ? "another than" : "nothing, not");
		if (!dotted && cfn_type(found) == CFJ_OBJECT && cfn_count(found) > 0)
		{
			const CfNode *inner_key = child_of(found);
			size_t		inner_len;
			char	   *inner = cfn_cstring(inner_key, &inner_len);

			if (strlen(inner) == inner_len && strchr(inner, '.') == NULL)
			{
				char	   *path = psprintf("%s.%s", last->key, inner);

				dotted = true;
				if (cfn_get(t, path) != cfn_get(found, inner))
					fail("cfn_get(\"%s\") is not cfn_get(\"%s\") in \"%s\"", path, inner, last->key);
			}
		}
	}
	/* its paths in it, and in its keys and values (none is found in a key) */
	check_path_set(t, t);
	{
		/* a key that sorts after every key of the object: missing */
		static const char missing[] = "\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f";

		if (n == 0 || compare_bytes(members[n - 1].key, members[n - 1].len,
									missing, strlen(missing)) < 0)
			if (cfn_get(t, missing) != NULL)
				fail("cfn_get finds a key the object has not");
	}
}

static void
compare(const CfNode *t, CfJson *j, int depth)
{
	CfJsonType	type;

	if (t == NULL)
		fail("a NULL node where json-c has a %s", type_name(cfj_type(j)));
	type = cfn_type(t);
	check_span(t);
	if (type != cfj_type(j))
		fail("a %s on the tape, a %s in json-c (%s)", type_name(type), type_name(cfj_type(j)),
			 cfj_serialize(j));
	switch (type)
	{
		case CFJ_NULL:
			break;
		case CFJ_BOOL:
			if (cfn_bool(t) != cfj_bool(j))
				fail("the boolean %d on the tape, %d in json-c", cfn_bool(t), cfj_bool(j));
			break;
		case CFJ_NUMBER:
			{
				size_t		len;
				const char *span = cfn_text(t, &len);
				char	   *tape = cfn_number_text(t);
				char	   *jsonc = cfj_serialize(j);

				if (!(len == 2 && memcmp(span, "-0", 2) == 0 ? strcmp(tape, "0") == 0
					  : strlen(tape) == len && memcmp(tape, span, len) == 0))
					fail("cfn_number_text is %s for the number %.*s", tape, (int) len, span);
				if (!same_number(tape, jsonc))
					fail("the number %s on the tape, %s in json-c", tape, jsonc);
			}
			break;
		case CFJ_STRING:
			{
				size_t		tlen;
				size_t		wlen;
				size_t		jlen;
				(void) tape_string(t, &tlen);	/* the tape's reading, checked */
				char	   *want = jsonc_string(t, &wlen);	/* with json-c's bug, if any */
				const char *jsonc = cfj_string(j, &jlen);

				if (wlen != jlen || memcmp(want, jsonc, wlen) != 0)
				{
					size_t		len;
					const char *span = cfn_text(t, &len);

					fail("the string %.*s is %zu bytes on the tape, %zu in json-c "
						 "(%zu as json-c is known to read it), or differs",
						 (int) Min(len, 200), span, tlen, jlen, wlen);
				}
			}
			break;
		case CFJ_ARRAY:
			compare_array(t, j, depth);
			break;
		case CFJ_OBJECT:
			compare_object(t, j, depth);
			break;
	}
	check_text(t, j);
}

/* Two tapes of the same text record the same nodes. */
static void
same_tape(const CfNode *a, const CfNode *b)
{
	const CfNode *x;
	const CfNode *y;
	size_t		alen;
	size_t		blen;

	if (cfn_type(a) != cfn_type(b) || cfn_text(a, &alen) != cfn_text(b, &blen) ||
		alen != blen || cfn_count(a) != cfn_count(b))
		fail("a validated parse records another node");
	for (x = child_of(a), y = child_of(b); x != NULL && y != NULL; x = next_in(a, x), y = next_in(b, y))
		same_tape(x, y);
	if (x != NULL || y != NULL)
		fail("a validated parse records other children");
}

/* Both took the text: everything must agree. */
static void
compare_documents(const CfNode *root, CfJson *doc, const char *text, size_t len)
{
	size_t		span_len;
	const char *span = cfn_text(root, &span_len);
	const char *start = text;
	const char *end = text + len;
	CfTape	   *again = cf_tape_create(CurrentMemoryContext);
	const CfNode *validated;

	doc_text = text;
	doc_len = len;
	while (start < end && strchr(" \t\r\n", *start) != NULL && *start != '\0')
		start++;
	while (end > start && strchr(" \t\r\n", end[-1]) != NULL && end[-1] != '\0')
		end--;
	if (span != start || span_len != (size_t) (end - start))
		fail("the root's text is not the document's");
	compare(root, doc, 0);
	/* parsing again, UTF-8 taken as checked, records the same tape */
	validated = tape_parse_raising(again, text, len, true);
	if (validated == NULL)
		fail("cf_tape_parse refuses it with its UTF-8 taken as checked: %s", shim_error_detail);
	same_tape(root, validated);
}

/* json-c reads a probe text as ever: the input left nothing in json.c. */
static void
check_nothing_left(const char *text, size_t size)
{
	static const char probe[] = "[\"\\u00e9\\ud83d\\ude00\", 1.5, -12, {\"k\\u0041\": true}]";
	static const char want[] = "[\"\xc3\xa9\xf0\x9f\x98\x80\",1.5,-12,{\"kA\":true}]";
	CfJson	   *j;
	char	   *got;

	doc_text = text;
	doc_len = size;
	stage = "json-c's parse of a probe after the input";
	if (!jsonc_parse(probe, strlen(probe), &j))
		fail("cfj_parse refuses %s after this input: %s", probe, shim_error_detail);
	got = cfj_serialize(j);
	if (strcmp(got, want) != 0)
		fail("cfj_parse reads %s as %s after this input, not as %s: it left something "
			 "in json.c's tokener", probe, got, want);
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *) data;
	CfTape	   *tape = cf_tape_create(CurrentMemoryContext);
	const CfNode *root;
	CfJson	   *doc;
	bool		jsonc_takes;
	size_t		repaired_len;
	char	   *repaired;

	doc_text = text;
	doc_len = size;
	stage = "the input";
	root = tape_parse(tape, text, size);
	jsonc_takes = jsonc_parse(text, size, &doc);
	if (root != NULL && jsonc_takes)
	{
		/* the tape takes no form json-c is lenient about */
		repaired = repair(text, size, &repaired_len);
		if (repaired_len != size || memcmp(repaired, text, size) != 0)
			fail("the tape takes a form RFC 8259 refuses (strict: %.*s)",
				 (int) Min(repaired_len, 200), repaired);
		compare_documents(root, doc, text, size);
	}
	else if (root != NULL)
	{
		/* the tape takes it, json-c refuses it */
		if (tape_depth(root, 0) >= JSONC_MAX_NESTING)
			fail("the tape takes a value inside %d containers, cfj_parse refuses it: %s",
				 tape_depth(root, 0), shim_error_detail);
		fail("the tape takes it, cfj_parse refuses it: %s", shim_error_detail);
	}
	else if (jsonc_takes)
	{
		/* json-c takes it, the tape refuses it: a leniency of json-c's only */
		const CfNode *strict;
		CfJson	   *strict_doc;

		repaired = repair(text, size, &repaired_len);
		if (repaired_len == size && memcmp(repaired, text, size) == 0)
			fail("cfj_parse takes it, the tape refuses it, and it has no form json-c is lenient about");
		doc_text = repaired;
		doc_len = repaired_len;
		stage = "the input made strict";
		strict = tape_parse(tape, repaired, repaired_len);
		if (!jsonc_parse(repaired, repaired_len, &strict_doc))
			fail("cfj_parse refuses the input made strict: %s", shim_error_detail);
		if (strict == NULL)
			fail("the tape refuses the input made strict too, json-c takes it (the input: %.*s)",
				 (int) Min(size, 200), text);
		compare_documents(strict, strict_doc, repaired, repaired_len);
	}
	check_nothing_left(text, size);
	shim_reset_arena();
	return 0;
}
