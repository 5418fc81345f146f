/*-------------------------------------------------------------------------
 *
 * tape.c
 *		  Answers read in place: one validating pass puts every value of a
 *		  response on a tape of nodes that point into its text.
 *
 * json-c builds an object per value, with a malloc each: parsing a page of
 * a listing that way costs more than fetching it, while a scan reads a few
 * fields of each item, or none (count(*)).  A tape costs one node per value,
 * in one array reused from page to page, and a value becomes something else
 * only when a column reads it.  What needs a json-c value (the members of an
 * error, a value's canonical text) gets one from cfn_to_json().
 *
 * What is accepted is strict JSON (RFC 8259): any value at the top, none
 * inside more than CFJ_MAX_DEPTH containers, valid UTF-8, no NaN or
 * Infinity; like json-c, a control character inside a string is taken as
 * it is.  Problems are described as cfj_parse() describes them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "port/pg_bitutils.h"
#include "utils/memutils.h"

#include "cf_tape.h"

struct CfTape
{
	MemoryContext cxt;
	CfNode	   *nodes;
	Size		capacity;
};

/* Why a pass refused a text. */
typedef enum CfRefusal
{
	CF_ACCEPTED,
	CF_ENDS_EARLY,
	CF_UNEXPECTED,
	CF_BAD_ESCAPE,
	CF_BAD_UTF8,
	CF_NON_FINITE,
	CF_TOO_DEEP
} CfRefusal;

/*
 * A pass over a text.  Its helpers are inlined into one loop and never
 * take its address elsewhere, so that the compiler keeps this state in
 * registers: the pass is a hot loop, a few cycles per byte.
 */
typedef struct CfPass
{
	CfTape	   *tape;
	CfNode	   *nodes;			/* tape->nodes, moved when it grows */
	uint32		used;
	uint32		capacity;
	const unsigned char *end;
	bool		validated;		/* the text's UTF-8 was checked before */
	int			depth;
	/* the containers being read, kept here rather than in their nodes */
	uint32		open[CFJ_MAX_DEPTH];	/* their nodes */
	uint32		count[CFJ_MAX_DEPTH];	/* elements, or members */
	bool		in_object[CFJ_MAX_DEPTH];
	CfRefusal	refusal;
	const unsigned char *at;	/* where the refusal is */
} CfPass;

#define INITIAL_NODES 1024

CfTape *
cf_tape_create(MemoryContext cxt)
{
	CfTape	   *tape = MemoryContextAllocZero(cxt, sizeof(CfTape));

	tape->cxt = cxt;
	return tape;
}

/* Twice the nodes; a text of n bytes never has more than n nodes. */
static pg_noinline CfNode *
grow_tape(CfTape *tape)
{
	Size		capacity = Max(INITIAL_NODES, tape->capacity * 2);

	tape->nodes = tape->nodes == NULL
		? MemoryContextAllocHuge(tape->cxt, capacity * sizeof(CfNode))
		: repalloc_huge(tape->nodes, capacity * sizeof(CfNode));
	tape->capacity = capacity;
	return tape->nodes;
}

static inline const unsigned char *
refuse(CfPass *pass, CfRefusal refusal, const unsigned char *at)
{
	pass->refusal = refusal;
	pass->at = at;
	return NULL;
}

static inline const unsigned char *
skip_space(const unsigned char *p, const unsigned char *end)
{
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p;
}

/*
 * A new node at p, after the last one: a scalar spans itself, a container
 * is given its span when it closes.
 */
static pg_attribute_always_inline CfNode *
add_node(CfPass *pass, CfJsonType type, const unsigned char *p)
{
	uint32		index = pass->used;
	CfNode	   *node;

	if (unlikely(index == pass->capacity))
	{
		pass->nodes = grow_tape(pass->tape);
		pass->capacity = (uint32) Min(pass->tape->capacity, PG_UINT32_MAX);
	}
	pass->used = index + 1;
	node = &pass->nodes[index];
	*node = (CfNode)
	{
		.text = (const char *) p,.span = 1,.type = (uint8) type
	};
	return node;
}

/* Whether a byte of a string is just itself: no quote, escape, NUL or UTF-8. */
static inline bool
is_plain(unsigned char c)
{
	return c >= 0x01 && c < 0x80 && c != '"' && c != '\\';
}

/*
 * Of eight bytes of a string, the high bit of each that is not plain, by a
 * zero-byte test, (b - 1) & ~b, of the byte and of its differences from a
 * quote and a backslash.  A borrow can mark a byte after the first one it
 * finds, never one before: the lowest mark is always right.
 */
static inline uint64
special_bytes(uint64 w)
{
	const uint64 ones = UINT64CONST(0x0101010101010101);
	uint64		quotes = w ^ (ones * '"');
	uint64		escapes = w ^ (ones * '\\');

	return (((quotes - ones) & ~quotes) | ((escapes - ones) & ~escapes) |
			((w - ones) & ~w) | w) & (ones * 0x80);
}

/* Which of the eight bytes loaded into a word the first mark is on. */
static inline int
first_marked_byte(uint64 marks)
{
#ifdef WORDS_BIGENDIAN
	return (63 - pg_leftmost_one_pos64(marks)) / 8;
#else
	return pg_rightmost_one_pos64(marks) / 8;
#endif
}

static inline bool
is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A string from its opening quote at p; returns the byte after it. */
static pg_attribute_always_inline const unsigned char *
scan_string(CfPass *pass, CfNode *node, const unsigned char *p)
{
	const unsigned char *end = pass->end;
	const unsigned char *first = p++;

	for (;;)
	{
		/* eight bytes at a time, to the first that is not plain */
		while (end - p >= 8)
		{
			uint64		w;
			uint64		marks;

			memcpy(&w, p, 8);
			marks = special_bytes(w);
			if (marks != 0)
			{
				p += first_marked_byte(marks);
				goto special;
			}
			p += 8;
		}
		while (p < end && is_plain(*p))
			p++;
		if (p == end)
			return refuse(pass, CF_ENDS_EARLY, p);
special:
		if (*p == '"')
			break;
		if (*p == '\0')
			return refuse(pass, CF_UNEXPECTED, p);
		if (*p == '\\')
		{
			node->escaped = true;
			if (++p == end)
				return refuse(pass, CF_ENDS_EARLY, p);
			if (*p == 'u')
			{
				for (int i = 1; i <= 4; i++)
				{
					if (p + i == end)
						return refuse(pass, CF_ENDS_EARLY, p + i);
					if (!is_hex(p[i]))
						return refuse(pass, CF_BAD_ESCAPE, p + i);
				}
				p += 5;
			}
			else if (*p == '"' || *p == '\\' || *p == '/' || *p == 'b' || *p == 'f' ||
					 *p == 'n' || *p == 'r' || *p == 't')
				p++;
			else
				return refuse(pass, CF_BAD_ESCAPE, p);
		}
		else if (pass->validated)
			p++;
		else
		{
			int			l = pg_utf_mblen(p);

			if (l > end - p || !pg_utf8_islegal(p, l))
				return refuse(pass, CF_BAD_UTF8, p);
			p += l;
		}
	}
	p++;
	node->len = (uint32) (p - first);
	return p;
}

static inline const unsigned char *
scan_digits(const unsigned char *p, const unsigned char *end)
{
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	return p;
}

/* NaN and Infinity, which json-c would take and JSON has not. */
static inline bool
is_non_finite(const unsigned char *p, const unsigned char *end)
{
	return (end - p >= 3 && memcmp(p, "NaN", 3) == 0) ||
		(end - p >= 8 && memcmp(p, "Infinity", 8) == 0);
}

/* A number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static pg_attribute_always_inline const unsigned char *
scan_number(CfPass *pass, CfNode *node, const unsigned char *p)
{
	const unsigned char *end = pass->end;
	const unsigned char *first = p;

	if (*p == '-' && ++p == end)
		return refuse(pass, CF_ENDS_EARLY, p);
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		p = scan_digits(p, end);
	else if (is_non_finite(p, end))
		return refuse(pass, CF_NON_FINITE, first);
	else
		return refuse(pass, CF_UNEXPECTED, p);
	if (p < end && *p == '.')
	{
		if (++p == end)
			return refuse(pass, CF_ENDS_EARLY, p);
		if (*p < '0' || *p > '9')
			return refuse(pass, CF_UNEXPECTED, p);
		p = scan_digits(p, end);
	}
	if (p < end && (*p == 'e' || *p == 'E'))
	{
		if (++p < end && (*p == '+' || *p == '-'))
			p++;
		if (p == end)
			return refuse(pass, CF_ENDS_EARLY, p);
		if (*p < '0' || *p > '9')
			return refuse(pass, CF_UNEXPECTED, p);
		p = scan_digits(p, end);
	}
	node->len = (uint32) (p - first);
	return p;
}

static inline const unsigned char *
scan_literal(CfPass *pass, CfNode *node, const unsigned char *p, const char *word, size_t len)
{
	size_t		left = pass->end - p;

	if (memcmp(p, word, Min(len, left)) != 0)
		return refuse(pass, CF_UNEXPECTED, p);
	if (left < len)
		return refuse(pass, CF_ENDS_EARLY, pass->end);
	node->len = (uint32) len;
	return p + len;
}

/* Whether the container being read (there is one) is an object. */
static inline bool
in_object(CfPass *pass)
{
	return pass->in_object[pass->depth - 1];
}

static inline void
open_container(CfPass *pass, const unsigned char *p)
{
	int			d = pass->depth;

	pass->in_object[d] = (*p == '{');
	add_node(pass, *p == '{' ? CFJ_OBJECT : CFJ_ARRAY, p);
	pass->open[d] = pass->used - 1;
	pass->count[d] = 0;
	pass->depth++;
}

static inline void
close_container(CfPass *pass, const unsigned char *p)
{
	int			d = --pass->depth;
	CfNode	   *node = &pass->nodes[pass->open[d]];

	node->len = (uint32) ((const char *) p + 1 - node->text);
	node->span = pass->used - pass->open[d];
	node->count = pass->count[d];
}

/*
 * One pass over a text.  The states: a value is expected, a member's key
 * is expected, or a value has ended and its container says what follows.
 */
static CfRefusal
scan_text(CfTape *tape, const unsigned char *start, const unsigned char *end,
		  bool validated, const unsigned char **at)
{
	CfPass		pass;
	const unsigned char *p = start;

	pass.tape = tape;
	pass.nodes = tape->nodes;
	pass.used = 0;
	pass.capacity = (uint32) Min(tape->capacity, PG_UINT32_MAX);
	pass.end = end;
	pass.validated = validated;
	pass.depth = 0;
	pass.refusal = CF_ACCEPTED;
	pass.at = NULL;

value:
	p = skip_space(p, end);
	if (p == end)
	{
		refuse(&pass, CF_ENDS_EARLY, p);
		goto out;
	}
	/* as in json-c, no value sits inside more containers than the limit */
	if (pass.depth == CFJ_MAX_DEPTH)
	{
		refuse(&pass, CF_TOO_DEEP, p);
		goto out;
	}
	if (pass.depth > 0 && !in_object(&pass))
		pass.count[pass.depth - 1]++;
	switch (*p)
	{
		case '{':
		case '[':
			open_container(&pass, p);
			p = skip_space(p + 1, end);
			if (p == end)
			{
				refuse(&pass, CF_ENDS_EARLY, p);
				goto out;
			}
			if (*p == (in_object(&pass) ? '}' : ']'))
			{
				close_container(&pass, p++);
				goto after;
			}
			if (in_object(&pass))
				goto key;
			goto value;
		case '"':
			p = scan_string(&pass, add_node(&pass, CFJ_STRING, p), p);
			break;
		case 't':
			p = scan_literal(&pass, add_node(&pass, CFJ_BOOL, p), p, "true", 4);
			break;
		case 'f':
			p = scan_literal(&pass, add_node(&pass, CFJ_BOOL, p), p, "false", 5);
			break;
		case 'n':
			p = scan_literal(&pass, add_node(&pass, CFJ_NULL, p), p, "null", 4);
			break;
		default:
			if (*p == '-' || (*p >= '0' && *p <= '9'))
				p = scan_number(&pass, add_node(&pass, CFJ_NUMBER, p), p);
			else
				p = refuse(&pass, is_non_finite(p, end) ? CF_NON_FINITE : CF_UNEXPECTED, p);
			break;
	}
	if (p == NULL)
		goto out;
	goto after;

key:
	p = skip_space(p, end);
	if (p == end || *p != '"')
	{
		refuse(&pass, p == end ? CF_ENDS_EARLY : CF_UNEXPECTED, p);
		goto out;
	}
	pass.count[pass.depth - 1]++;
	p = scan_string(&pass, add_node(&pass, CFJ_STRING, p), p);
	if (p == NULL)
		goto out;
	p = skip_space(p, end);
	if (p == end || *p != ':')
	{
		refuse(&pass, p == end ? CF_ENDS_EARLY : CF_UNEXPECTED, p);
		goto out;
	}
	p++;
	goto value;

after:
	p = skip_space(p, end);
	if (pass.depth == 0)
	{
		if (p != end)
			refuse(&pass, CF_UNEXPECTED, p);
		goto out;
	}
	if (p == end)
	{
		refuse(&pass, CF_ENDS_EARLY, p);
		goto out;
	}
	if (*p == ',')
	{
		p++;
		if (in_object(&pass))
			goto key;
		goto value;
	}
	if (*p != (in_object(&pass) ? '}' : ']'))
	{
		refuse(&pass, CF_UNEXPECTED, p);
		goto out;
	}
	close_container(&pass, p++);
	goto after;

out:
	*at = pass.at;
	return pass.refusal;
}

/* Parse into tape; NULL with *problem (and *detail) set when refused. */
static const CfNode *
parse(CfTape *tape, const char *text, size_t len, bool validated,
	  const char **problem, char **detail)
{
	const unsigned char *start = (const unsigned char *) text;
	const unsigned char *at;
	const char *what = NULL;

	*problem = NULL;
	*detail = NULL;
	if (len == 0)
	{
		*problem = "The response body is empty.";
		return NULL;
	}
	if (len > PG_UINT32_MAX)
	{
		*problem = "The document is too large.";
		return NULL;
	}
	switch (scan_text(tape, start, start + len, validated, &at))
	{
		case CF_ACCEPTED:
			return &tape->nodes[0];
		case CF_ENDS_EARLY:
			*problem = "The document ends unexpectedly.";
			return NULL;
		case CF_TOO_DEEP:
			*problem = psprintf("The document nests deeper than %d levels.", CFJ_MAX_DEPTH);
			*detail = psprintf("at byte %zu", (size_t) (at - start));
			return NULL;
		case CF_UNEXPECTED:
			what = "unexpected character";
			break;
		case CF_BAD_ESCAPE:
			what = "invalid string sequence";
			break;
		case CF_BAD_UTF8:
			what = "invalid utf-8 string";
			break;
		case CF_NON_FINITE:
			what = "NaN or Infinity";
			break;
	}
	*problem = "The document is not valid JSON.";
	*detail = psprintf("%s at byte %zu", what, (size_t) (at - start));
	return NULL;
}

/* Parse a response; an invalid one is an ERROR, as with cfj_parse(). */
const CfNode *
cf_tape_parse(CfTape *tape, const char *text, size_t len, bool validated)
{
	const char *problem;
	char	   *detail;
	const CfNode *root = parse(tape, text, len, validated, &problem, &detail);

	if (root == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_JSON_TEXT),
				 errmsg("invalid JSON in response"),
				 detail ? errdetail("%s (%s)", problem, detail) : errdetail("%s", problem)));
	return root;
}

/* Like cf_tape_parse, but NULL instead of an error: for answers nobody must read. */
const CfNode *
cf_tape_try_parse(CfTape *tape, const char *text, size_t len)
{
	const char *problem;
	char	   *detail;

	return parse(tape, text, len, false, &problem, &detail);
}

const CfNode *
cfn_array_get(const CfNode *array, int index)
{
	const CfNode *element;

	if (cfn_type(array) != CFJ_ARRAY || index < 0 || index >= (int) array->count)
		return NULL;
	for (element = cfn_first(array); index > 0; index--)
		element = cfn_skip(element);
	return element;
}

static int
hex_value(char c)
{
	return (c <= '9') ? c - '0' : (c | 0x20) - 'a' + 10;
}

static pg_wchar
read_u_escape(const char *p)
{
	return (hex_value(p[0]) << 12) | (hex_value(p[1]) << 8) |
		(hex_value(p[2]) << 4) | hex_value(p[3]);
}

/*
 * The contents of an escaped string, NUL-terminated.  As json-c does, a
 * surrogate that is not half of a pair becomes U+FFFD, and \u0000 a NUL
 * byte inside the string.
 */
static char *
unescape(const CfNode *node, size_t *len)
{
	const char *p = node->text + 1;
	const char *end = node->text + node->len - 1;
	char	   *out = palloc(node->len);
	char	   *o = out;

	while (p < end)
	{
		pg_wchar	c;

		if (*p != '\\')
		{
			*o++ = *p++;
			continue;
		}
		p++;
		switch (*p++)
		{
			case 'b':
				*o++ = '\b';
				continue;
			case 'f':
				*o++ = '\f';
				continue;
			case 'n':
				*o++ = '\n';
				continue;
			case 'r':
				*o++ = '\r';
				continue;
			case 't':
				*o++ = '\t';
				continue;
			case 'u':
				break;
			default:			/* " \ / */
				*o++ = p[-1];
				continue;
		}
		c = read_u_escape(p);
		p += 4;
		if (c >= 0xD800 && c <= 0xDBFF && end - p >= 6 && p[0] == '\\' && p[1] == 'u')
		{
			pg_wchar	low = read_u_escape(p + 2);

			if (low >= 0xDC00 && low <= 0xDFFF)
			{
				c = 0x10000 + ((c - 0xD800) << 10) + (low - 0xDC00);
				p += 6;
			}
		}
		if (c >= 0xD800 && c <= 0xDFFF)
			c = 0xFFFD;
		/* six escaped bytes never make more than four of UTF-8 */
		o = (char *) unicode_to_utf8(c, (unsigned char *) o);
		o += pg_utf_mblen((unsigned char *) o);
	}
	*o = '\0';
	*len = o - out;
	return out;
}

/*
 * A string's contents, in UTF-8: the text itself when it has no escape,
 * so not NUL-terminated; else a copy in the current memory context.
 */
const char *
cfn_string_view(const CfNode *node, size_t *len)
{
	if (node->escaped)
		return unescape(node, len);
	*len = node->len - 2;
	return node->text + 1;
}

/*
 * A string's contents, NUL-terminated, in the current memory context; *len
 * counts the bytes, as an escaped NUL may be one of them.
 */
char *
cfn_cstring(const CfNode *node, size_t *len)
{
	if (node->escaped)
		return unescape(node, len);
	*len = node->len - 2;
	return pnstrdup(node->text + 1, *len);
}


/*
 * A number as written, NUL-terminated, in the current memory context; json-c
 * reads the integer -0 as 0, and so does this.
 */
char *
cfn_number_text(const CfNode *node)
{
	if (node->len == 2 && memcmp(node->text, "-0", 2) == 0)
		return pstrdup("0");
	return pnstrdup(node->text, node->len);
}

/* Whether a member's key is the segment of a path. */
static bool
key_is(const CfNode *key, const char *segment, size_t seglen)
{
	size_t		len;
	const char *contents;
	bool		same;

	if (!key->escaped)
		return key->len - 2 == seglen && memcmp(key->text + 1, segment, seglen) == 0;
	contents = unescape(key, &len);
	same = len == seglen && memcmp(contents, segment, seglen) == 0;
	pfree((char *) contents);
	return same;
}

/*
 * The value at a dotted path, or NULL if a key on the way is missing.  Of
 * two members with the same key the last counts, as in json-c and jsonb.
 */
const CfNode *
cfn_get(const CfNode *object, const char *dotted_path)
{
	const char *segment = dotted_path;

	for (;;)
	{
		const char *dot = strchr(segment, '.');
		size_t		seglen = dot ? (size_t) (dot - segment) : strlen(segment);
		const CfNode *found = NULL;

		if (cfn_type(object) != CFJ_OBJECT)
			return NULL;
		cfn_foreach_member(key, object)
			if (key_is(key, segment, seglen))
				found = cfn_skip(key);
		if (found == NULL || dot == NULL)
			return found;
		object = found;
		segment = dot + 1;
	}
}

/*
 * Paths looked up together in many objects (a table's columns in every
 * item): one pass over an object's members finds all the paths that start
 * there, where a lookup per path would pass over them once each.  The
 * paths' segments form a tree of steps, a parent always before its
 * children.
 */
/* Children of a step are found by the length of their key, in so many lists. */
#define CF_KEY_BUCKETS 16

/* A step's children, by key length: the first of each list, or -1. */
typedef struct CfStepChildren
{
	int			first[CF_KEY_BUCKETS];
} CfStepChildren;

typedef struct CfPathStep
{
	const char *segment;
	size_t		len;
	int			next;			/* the next step of the parent's list, or -1 */
	CfStepChildren children;
	bool		has_children;
} CfPathStep;

struct CfPathSet
{
	int			nsteps;
	CfPathStep *steps;
	CfStepChildren top;			/* the steps of the top object */
	int			npaths;
	int		   *ends;			/* the step each path ends at */
	const CfNode **found;		/* per step, during a lookup */
};

static void
no_children(CfStepChildren *children)
{
	for (int b = 0; b < CF_KEY_BUCKETS; b++)
		children->first[b] = -1;
}

static int
find_or_add_step(CfPathSet *set, int parent, const char *segment, size_t len)
{
	CfStepChildren *siblings = parent < 0 ? &set->top : &set->steps[parent].children;
	int		   *link = &siblings->first[len % CF_KEY_BUCKETS];
	CfPathStep *step;

	for (; *link >= 0; link = &set->steps[*link].next)
	{
		step = &set->steps[*link];
		if (step->len == len && memcmp(step->segment, segment, len) == 0)
			return *link;
	}
	step = &set->steps[set->nsteps];
	step->segment = segment;
	step->len = len;
	step->next = -1;
	no_children(&step->children);
	step->has_children = false;
	if (parent >= 0)
		set->steps[parent].has_children = true;
	*link = set->nsteps;
	return set->nsteps++;
}

/* The set of dotted paths, in the current memory context, which they must outlive. */
CfPathSet *
cfn_compile_paths(const char *const *paths, int npaths)
{
	CfPathSet  *set = palloc0(sizeof(CfPathSet));
	int			nsegments = 0;

	for (int i = 0; i < npaths; i++)
	{
		nsegments++;
		for (const char *c = paths[i]; *c != '\0'; c++)
			nsegments += (*c == '.');
	}
	set->steps = palloc(sizeof(CfPathStep) * Max(nsegments, 1));
	set->found = palloc(sizeof(CfNode *) * Max(nsegments, 1));
	set->ends = palloc(sizeof(int) * Max(npaths, 1));
	set->npaths = npaths;
	no_children(&set->top);
	for (int i = 0; i < npaths; i++)
	{
		const char *segment = paths[i];
		int			step = -1;

		for (;;)
		{
			const char *dot = strchr(segment, '.');
			size_t		len = dot ? (size_t) (dot - segment) : strlen(segment);

			step = find_or_add_step(set, step, segment, len);
			if (dot == NULL)
				break;
			segment = dot + 1;
		}
		set->ends[i] = step;
	}
	return set;
}

/* Note the members of object that children name; of two with one key, the last. */
static void
find_members(CfPathSet *set, const CfNode *object, const CfStepChildren *children)
{
	if (cfn_type(object) != CFJ_OBJECT)
		return;
	cfn_foreach_member(key, object)
	{
		size_t		len = key->len - 2;
		const char *name = key->text + 1;

		if (key->escaped)
			name = unescape(key, &len);
		for (int i = children->first[len % CF_KEY_BUCKETS]; i >= 0; i = set->steps[i].next)
		{
			const CfPathStep *step = &set->steps[i];

			if (len == step->len && memcmp(name, step->segment, len) == 0)
				set->found[i] = cfn_skip(key);
		}
	}
}

/*
 * The value at each path of the set in object, as cfn_get() finds it, into
 * values (NULL where a key on the way is missing).
 */
void
cfn_find_paths(const CfNode *object, CfPathSet *set, const CfNode **values)
{
	if (set->nsteps == 0)
		return;
	for (int i = 0; i < set->nsteps; i++)
		set->found[i] = NULL;
	find_members(set, object, &set->top);
	/* a parent comes before its children, so its member is known by now */
	for (int i = 0; i < set->nsteps; i++)
		if (set->steps[i].has_children && set->found[i] != NULL)
			find_members(set, set->found[i], &set->steps[i].children);
	for (int i = 0; i < set->npaths; i++)
		values[i] = set->found[set->ends[i]];
}

/* The value as json-c parses it (NULL for a JSON null), tracked by owner. */
CfJson *
cfn_to_json(const CfNode *node, MemoryContext owner)
{
	/* the tape's pass checked its UTF-8 already */
	return cfj_parse_again(node->text, node->len, owner);
}

/* Compact JSON text of a value, as cfj_serialize() writes it. */
char *
cfn_serialize(const CfNode *node)
{
	return cfj_serialize(cfn_to_json(node, CurrentMemoryContext));
}
