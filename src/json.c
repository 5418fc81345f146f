/*-------------------------------------------------------------------------
 *
 * json.c
 *		  json-c behind the small API of cf_json.h.
 *
 * Every json-c value handed out is either tracked by a memory context
 * (created or parsed here) or borrowed from a tracked one; see cf_json.h.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <limits.h>
#include <json-c/json.h>

#include "utils/memutils.h"

#include "cf_json.h"

/* Longest dotted-path segment handled without a palloc. */
#define CFJ_SEGMENT_BUFSIZE 128

#define TO_JSONC(v) ((struct json_object *) (v))
#define FROM_JSONC(v) ((CfJson *) (v))

typedef struct CfjTracked
{
	MemoryContextCallback callback;
	struct json_object *value;
} CfjTracked;

static void
release_tracked(void *arg)
{
	CfjTracked *tracked = (CfjTracked *) arg;

	json_object_put(tracked->value);
}

/*
 * Allocate the tracker before the json-c value, so that a failing palloc
 * cannot strand a malloc'd value.
 */
static CfjTracked *
new_tracker(MemoryContext owner)
{
	CfjTracked *tracked = MemoryContextAlloc(owner, sizeof(CfjTracked));

	tracked->callback.func = release_tracked;
	tracked->callback.arg = tracked;
	tracked->value = NULL;
	return tracked;
}

static CfJson *
track(CfjTracked *tracked, struct json_object *value, MemoryContext owner)
{
	if (value == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while building JSON")));
	tracked->value = value;
	MemoryContextRegisterResetCallback(owner, &tracked->callback);
	return FROM_JSONC(value);
}

/*
 * What a scan of the number literals of a document json-c accepted found.
 * json-c takes NaN and Infinity, which JSON does not have, and clamps
 * integer literals beyond 64 bits to INT64_MIN or UINT64_MAX.
 */
typedef struct CfjNumberScan
{
	ssize_t		non_finite;		/* byte offset of the first NaN or Infinity, or -1 */
	int			nbig;			/* integer literals that json-c would clamp */
} CfjNumberScan;

/* Whether an integer literal is beyond what json-c keeps exactly. */
static bool
is_big_integer(const char *literal, size_t len)
{
	bool		negative = (literal[0] == '-');
	const char *digits = literal + negative;
	size_t		ndigits = len - negative;
	const char *limit = negative ? "9223372036854775808" : "18446744073709551615";
	size_t		limit_len = strlen(limit);

	while (ndigits > 1 && digits[0] == '0')
	{
		digits++;
		ndigits--;
	}
	return ndigits > limit_len ||
		(ndigits == limit_len && memcmp(digits, limit, ndigits) > 0);
}

/*
 * The offset of the quote that ends a string whose text starts at i: the
 * next quote not escaped by an odd number of backslashes.  memchr finds
 * quotes much faster than a loop over every character.
 */
static size_t
string_end(const char *text, size_t len, size_t i)
{
	for (;;)
	{
		const char *quote = memchr(text + i, '"', len - i);
		size_t		q;
		size_t		backslashes = 0;

		if (quote == NULL)
			return len;
		q = quote - text;
		while (q - backslashes > i && text[q - backslashes - 1] == '\\')
			backslashes++;
		if (backslashes % 2 == 0)
			return q;
		i = q + 1;
	}
}

static bool
is_number_char(char c)
{
	return (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.' || c == 'e' || c == 'E';
}

/*
 * Scan the numbers of a document json-c has accepted (so its strings are
 * well-formed).  With marked not NULL, also copy the document there with
 * "e0" after each integer that json-c would clamp: json-c keeps the text of
 * a number written as a double, and unmark_big_integers() restores it.
 */
static void
scan_numbers(const char *text, size_t len, char *marked, CfjNumberScan *scan)
{
	size_t		copied = 0;

	scan->non_finite = -1;
	scan->nbig = 0;
	for (size_t i = 0; i < len; i++)
	{
		size_t		start = i;
		bool		integer = true;

		if (text[i] == '"')
		{
			i = string_end(text, len, i + 1);
			continue;
		}
		if (text[i] == 'N' || text[i] == 'I')
		{
			if (scan->non_finite < 0)
				scan->non_finite = (i > 0 && text[i - 1] == '-') ? i - 1 : i;
			continue;
		}
		if (text[i] != '-' && !isdigit((unsigned char) text[i]))
			continue;
		for (i++; i < len && is_number_char(text[i]); i++)
			if (!isdigit((unsigned char) text[i]))
				integer = false;
		/* "-" alone is the start of -Infinity */
		if (integer && isdigit((unsigned char) text[i - 1]) &&
			is_big_integer(text + start, i - start))
		{
			scan->nbig++;
			if (marked != NULL)
			{
				memcpy(marked, text + copied, i - copied);
				marked += i - copied;
				memcpy(marked, "e0", 2);
				marked += 2;
				copied = i;
			}
		}
		i--;					/* the loop steps past the literal */
	}
	if (marked != NULL)
	{
		memcpy(marked, text + copied, len - copied);
		marked[len - copied] = '\0';
	}
}

/* Give the integers scan_numbers() marked their own text back. */
static void
unmark_big_integers(struct json_object *value)
{
	switch (json_object_get_type(value))
	{
		case json_type_double:
			{
				const char *text = json_object_get_string(value);
				size_t		len = strlen(text);
				size_t		sign = (text[0] == '-');
				char	   *literal;

				if (len < sign + 3 || strcmp(text + len - 2, "e0") != 0)
					break;
				len -= 2;
				if (strspn(text + sign, "0123456789") != len - sign ||
					!is_big_integer(text, len))
					break;
				/*
				 * A literal the API itself wrote as "<big integer>e0" loses
				 * its "e0" too, which changes nothing of its value.
				 */
				literal = strndup(text, len);
				if (literal == NULL)
					ereport(ERROR,
							(errcode(ERRCODE_OUT_OF_MEMORY),
							 errmsg("out of memory while parsing JSON")));
				json_object_set_serializer(value, json_object_userdata_to_json_string,
										   literal, json_object_free_userdata);
			}
			break;
		case json_type_array:
			for (size_t i = 0; i < json_object_array_length(value); i++)
				unmark_big_integers(json_object_array_get_idx(value, i));
			break;
		case json_type_object:
			{
				struct json_object_iter it;

				json_object_object_foreachC(value, it)
					unmark_big_integers(it.val);
			}
			break;
		default:
			break;
	}
}

/*
 * json-c's parse of a whole text, with our depth limit and strictness; UTF-8
 * is validated unless the text passed before.  One tokener serves the
 * backend's parses, as json-c advises: reset, it keeps its buffers.  One
 * that failed is replaced: json_tokener_reset() keeps a half-read
 * surrogate escape (json-c 0.16), which the next text would begin with.
 */
static struct json_object *
tokenize(const char *text, size_t len, bool validated, enum json_tokener_error *err,
		 size_t *consumed)
{
	static struct json_tokener *tok = NULL;
	struct json_object *value;

	if (tok == NULL && (tok = json_tokener_new_ex(CFJ_MAX_DEPTH)) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while parsing JSON")));
	json_tokener_reset(tok);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | (validated ? 0 : JSON_TOKENER_VALIDATE_UTF8));
	value = json_tokener_parse_ex(tok, text, (int) len);
	*err = json_tokener_get_error(tok);
	*consumed = json_tokener_get_parse_end(tok);

	/*
	 * json-c reads on and on: a number or a literal at the end of the text
	 * is only known to end with a NUL byte after it.  Anything else still
	 * open at the end ends unexpectedly.
	 */
	if (*err == json_tokener_continue && *consumed == len)
	{
		value = json_tokener_parse_ex(tok, "", 1);
		*err = json_tokener_get_error(tok);
		if (*err != json_tokener_success)
			*err = json_tokener_continue;
	}
	if (*err != json_tokener_success)
	{
		json_tokener_free(tok);
		tok = NULL;
	}
	return value;
}

/*
 * Parse a whole document.  On failure, returns NULL with *problem and
 * *detail set (detail may be NULL); a JSON null also returns NULL but with
 * *problem NULL.  Integers beyond 64 bits are kept exactly, as written.
 */
static CfJson *
parse_document(const char *text, size_t len, bool validated, MemoryContext owner,
			   const char **problem, char **detail)
{
	CfjTracked *tracked;
	struct json_object *value;
	enum json_tokener_error err;
	size_t		consumed;
	CfjNumberScan scan;
	CfJson	   *doc;

	*problem = NULL;
	*detail = NULL;
	if (len == 0)
	{
		*problem = "The response body is empty.";
		return NULL;
	}
	if (len > INT_MAX)
	{
		*problem = "The document is too large.";
		return NULL;
	}

	tracked = new_tracker(owner);
	value = tokenize(text, len, validated, &err, &consumed);
	if (err == json_tokener_continue)
	{
		*problem = "The document ends unexpectedly.";
		return NULL;
	}
	if (err == json_tokener_error_depth)
	{
		*problem = psprintf("The document nests deeper than %d levels.", CFJ_MAX_DEPTH);
		*detail = psprintf("at byte %zu", consumed);
		return NULL;
	}
	if (err != json_tokener_success)
	{
		*problem = "The document is not valid JSON.";
		*detail = psprintf("%s at byte %zu", json_tokener_error_desc(err), consumed);
		return NULL;
	}
	while (consumed < len && text[consumed] != '\0' &&
		   strchr(" \t\r\n", text[consumed]) != NULL)
		consumed++;
	if (consumed < len)
	{
		json_object_put(value);
		*problem = "The document is followed by unexpected data.";
		*detail = psprintf("at byte %zu", consumed);
		return NULL;
	}

	scan_numbers(text, len, NULL, &scan);
	if (scan.non_finite >= 0)
	{
		json_object_put(value);
		*problem = "The document is not valid JSON.";
		*detail = psprintf("NaN or Infinity at byte %zd", scan.non_finite);
		return NULL;
	}
	if (scan.nbig > 0)
	{
		size_t		marked_len = len + 2 * scan.nbig;
		char	   *marked;

		json_object_put(value);
		if (marked_len >= MaxAllocSize)
		{
			*problem = "The document is too large.";
			return NULL;
		}
		marked = palloc(marked_len + 1);
		scan_numbers(text, len, marked, &scan);
		/* the same document, with some integers written as doubles */
		value = tokenize(marked, marked_len, validated, &err, &consumed);
		pfree(marked);
		if (err != json_tokener_success)
		{
			json_object_put(value);
			*problem = "The document is not valid JSON.";
			*detail = psprintf("%s with its large integers marked", json_tokener_error_desc(err));
			return NULL;
		}
	}

	if (value == NULL)			/* the document is a JSON null */
		return NULL;
	doc = track(tracked, value, owner);
	if (scan.nbig > 0)
		unmark_big_integers(value);
	return doc;
}

/* A parse problem as one detail sentence. */
static char *
describe_problem(const char *problem, const char *detail)
{
	return detail ? psprintf("%s (%s)", problem, detail) : pstrdup(problem);
}

static CfJson *
parse_or_report(const char *text, size_t len, bool validated, MemoryContext owner)
{
	const char *problem;
	char	   *detail;
	CfJson	   *doc = parse_document(text, len, validated, owner, &problem, &detail);

	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_JSON_TEXT),
				 errmsg("invalid JSON in response"),
				 errdetail("%s", describe_problem(problem, detail))));
	return doc;
}

CfJson *
cfj_parse(const char *text, size_t len, MemoryContext owner)
{
	return parse_or_report(text, len, false, owner);
}

/* A text cfj_parse took before (an answer from the cache): UTF-8 is not checked again. */
CfJson *
cfj_parse_again(const char *text, size_t len, MemoryContext owner)
{
	return parse_or_report(text, len, true, owner);
}

/* Like cfj_parse, but NULL instead of an error: for bodies that may be HTML. */
CfJson *
cfj_try_parse(const char *text, size_t len, MemoryContext owner)
{
	const char *problem;
	char	   *detail;

	return parse_document(text, len, false, owner, &problem, &detail);
}

/*
 * Parse a json or jsonb value of ours, to send it.  Returns NULL and sets
 * *value (NULL for a JSON null), or returns why json-c cannot take it (a
 * value nested deeper than CFJ_MAX_DEPTH).
 */
const char *
cfj_parse_value(const char *text, size_t len, MemoryContext owner, CfJson **value)
{
	const char *problem;
	char	   *detail;

	*value = parse_document(text, len, false, owner, &problem, &detail);
	return problem ? describe_problem(problem, detail) : NULL;
}

CfJsonType
cfj_type(const CfJson *value)
{
	switch (json_object_get_type(TO_JSONC(value)))
	{
		case json_type_boolean:
			return CFJ_BOOL;
		case json_type_int:
		case json_type_double:
			return CFJ_NUMBER;
		case json_type_string:
			return CFJ_STRING;
		case json_type_array:
			return CFJ_ARRAY;
		case json_type_object:
			return CFJ_OBJECT;
		case json_type_null:
			break;
	}
	return CFJ_NULL;
}

const char *
cfj_type_name(CfJsonType type)
{
	switch (type)
	{
		case CFJ_BOOL:
			return "boolean";
		case CFJ_NUMBER:
			return "number";
		case CFJ_STRING:
			return "string";
		case CFJ_ARRAY:
			return "array";
		case CFJ_OBJECT:
			return "object";
		case CFJ_NULL:
			break;
	}
	return "null";
}

/*
 * Walk a dotted path one key at a time.  *found tells a missing key from a
 * key whose value is null, which merge patches need to keep apart.
 */
static struct json_object *
walk_path(struct json_object *object, const char *dotted_path, bool *found)
{
	const char *segment = dotted_path;

	*found = false;
	for (;;)
	{
		const char *dot = strchr(segment, '.');
		size_t		seglen = dot ? (size_t) (dot - segment) : strlen(segment);
		char		buf[CFJ_SEGMENT_BUFSIZE];
		char	   *key = buf;
		struct json_object *child;
		bool		exists;

		if (!json_object_is_type(object, json_type_object))
			return NULL;
		if (seglen >= sizeof(buf))
			key = palloc(seglen + 1);
		memcpy(key, segment, seglen);
		key[seglen] = '\0';
		exists = json_object_object_get_ex(object, key, &child);
		if (key != buf)
			pfree(key);
		if (!exists)
			return NULL;
		if (dot == NULL)
		{
			*found = true;
			return child;
		}
		object = child;
		segment = dot + 1;
	}
}

CfJson *
cfj_get(const CfJson *object, const char *dotted_path)
{
	bool		found;

	return FROM_JSONC(walk_path(TO_JSONC(object), dotted_path, &found));
}

bool
cfj_has(const CfJson *object, const char *dotted_path)
{
	bool		found;

	walk_path(TO_JSONC(object), dotted_path, &found);
	return found;
}

/* Call fn for each member of an object, in the order of the text. */
void
cfj_object_foreach(const CfJson *object, void (*fn) (const char *key, CfJson *value, void *arg),
				   void *arg)
{
	struct json_object_iter it;

	if (cfj_type(object) != CFJ_OBJECT)
		return;
	json_object_object_foreachC(TO_JSONC(object), it)
		fn(it.key, FROM_JSONC(it.val), arg);
}

const char *
cfj_string(const CfJson *value, size_t *len)
{
	*len = (size_t) json_object_get_string_len(TO_JSONC(value));
	return json_object_get_string(TO_JSONC(value));
}

bool
cfj_bool(const CfJson *value)
{
	return json_object_get_boolean(TO_JSONC(value));
}

int
cfj_array_length(const CfJson *array)
{
	return (int) json_object_array_length(TO_JSONC(array));
}

CfJson *
cfj_array_get(const CfJson *array, int index)
{
	return FROM_JSONC(json_object_array_get_idx(TO_JSONC(array), index));
}

/* Compact JSON text, palloc'd in the current memory context. */
char *
cfj_serialize(const CfJson *value)
{
	size_t		len;
	const char *text;

	text = json_object_to_json_string_length(TO_JSONC(value),
											 JSON_C_TO_STRING_PLAIN |
											 JSON_C_TO_STRING_NOSLASHESCAPE,
											 &len);
	if (text == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while serializing JSON")));
	return pnstrdup(text, len);
}

CfJson *
cfj_new_object(MemoryContext owner)
{
	CfjTracked *tracked = new_tracker(owner);

	return track(tracked, json_object_new_object(), owner);
}

CfJson *
cfj_new_array(MemoryContext owner)
{
	CfjTracked *tracked = new_tracker(owner);

	return track(tracked, json_object_new_array(), owner);
}

CfJson *
cfj_new_string(const char *str, size_t len, MemoryContext owner)
{
	CfjTracked *tracked = new_tracker(owner);

	if (len > INT_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("string of %zu bytes is too long for a request body", len)));
	return track(tracked, json_object_new_string_len(str, (int) len), owner);
}

CfJson *
cfj_new_bool(bool value, MemoryContext owner)
{
	CfjTracked *tracked = new_tracker(owner);

	return track(tracked, json_object_new_boolean(value), owner);
}

/* Whether a literal is a JSON number: not NaN, Infinity or other forms. */
bool
cfj_is_number(const char *literal)
{
	const char *p = literal + (literal[0] == '-');

	if (*p == '0')
		p++;
	else if (isdigit((unsigned char) *p))
		p += strspn(p, "0123456789");
	else
		return false;
	if (*p == '.')
	{
		if (!isdigit((unsigned char) p[1]))
			return false;
		p += 1 + strspn(p + 1, "0123456789");
	}
	if (*p == 'e' || *p == 'E')
	{
		p += 1 + (p[1] == '+' || p[1] == '-');
		if (!isdigit((unsigned char) *p))
			return false;
		p += strspn(p, "0123456789");
	}
	return *p == '\0';
}

/*
 * A number kept exactly as PostgreSQL printed it, so numeric loses nothing;
 * the literal must be a JSON number (cfj_is_number).
 */
CfJson *
cfj_new_number(const char *literal, MemoryContext owner)
{
	CfjTracked *tracked = new_tracker(owner);

	return track(tracked, json_object_new_double_s(strtod(literal, NULL), literal),
				 owner);
}

void
cfj_array_append(CfJson *array, CfJson *value)
{
	struct json_object *v = json_object_get(TO_JSONC(value));

	if (json_object_array_add(TO_JSONC(array), v) != 0)
	{
		json_object_put(v);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while building JSON")));
	}
}

static void
object_put_key(struct json_object *object, const char *key, struct json_object *value)
{
	struct json_object *v = json_object_get(value);

	if (json_object_object_add(object, key, v) != 0)
	{
		json_object_put(v);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while building JSON")));
	}
}

/*
 * Store value at dotted_path, creating the objects on the way.  Returns false,
 * storing nothing, when the path is already taken or runs through a value
 * that is not an object: two columns would be writing the same field.
 */
bool
cfj_set_path(CfJson *object, const char *dotted_path, CfJson *value,
			 MemoryContext owner)
{
	struct json_object *current = TO_JSONC(object);
	char	   *path = pstrdup(dotted_path);
	char	   *segment = path;
	char	   *dot;

	while ((dot = strchr(segment, '.')) != NULL)
	{
		struct json_object *child;

		*dot = '\0';
		if (!json_object_object_get_ex(current, segment, &child))
		{
			child = TO_JSONC(cfj_new_object(owner));
			object_put_key(current, segment, child);
		}
		else if (!json_object_is_type(child, json_type_object))
		{
			pfree(path);
			return false;
		}
		current = child;
		segment = dot + 1;
	}
	if (json_object_object_get_ex(current, segment, NULL))
	{
		pfree(path);
		return false;
	}
	object_put_key(current, segment, TO_JSONC(value));
	pfree(path);
	return true;
}

/*
 * Whether two values are the same JSON.  json_object_equal() compares
 * doubles by value, so two integers beyond 64 bits, or two long decimals,
 * that one double cannot tell apart would be equal: numbers written as
 * doubles compare by their text here.
 */
static bool
same_json(struct json_object *a, struct json_object *b)
{
	enum json_type type = json_object_get_type(a);

	if (type != json_object_get_type(b))
		return false;
	switch (type)
	{
		case json_type_double:
			return strcmp(json_object_get_string(a), json_object_get_string(b)) == 0;
		case json_type_array:
			if (json_object_array_length(a) != json_object_array_length(b))
				return false;
			for (size_t i = 0; i < json_object_array_length(a); i++)
				if (!same_json(json_object_array_get_idx(a, i),
							   json_object_array_get_idx(b, i)))
					return false;
			return true;
		case json_type_object:
			{
				struct json_object_iter it;
				struct json_object *other;

				if (json_object_object_length(a) != json_object_object_length(b))
					return false;
				json_object_object_foreachC(a, it)
				{
					if (!json_object_object_get_ex(b, it.key, &other) ||
						!same_json(it.val, other))
						return false;
				}
				return true;
			}
		default:
			return json_object_equal(a, b);
	}
}

/*
 * The JSON merge patch (RFC 7386) that turns old_value into new_value:
 * changed keys carry their new value, nested objects are diffed recursively,
 * removed keys become null.  Anything but two objects diffs to new_value.
 */
CfJson *
cfj_merge_diff(const CfJson *old_value, const CfJson *new_value,
			   MemoryContext owner)
{
	struct json_object *oldobj = TO_JSONC(old_value);
	struct json_object *newobj = TO_JSONC(new_value);
	struct json_object *patch;
	struct json_object_iter it;

	if (!json_object_is_type(oldobj, json_type_object) ||
		!json_object_is_type(newobj, json_type_object))
		return (CfJson *) new_value;

	patch = TO_JSONC(cfj_new_object(owner));
	json_object_object_foreachC(newobj, it)
	{
		struct json_object *oldchild;

		if (!json_object_object_get_ex(oldobj, it.key, &oldchild))
			object_put_key(patch, it.key, it.val);
		else if (!same_json(oldchild, it.val))
			object_put_key(patch, it.key,
						   TO_JSONC(cfj_merge_diff(FROM_JSONC(oldchild),
												   FROM_JSONC(it.val), owner)));
	}
	json_object_object_foreachC(oldobj, it)
	{
		if (!json_object_object_get_ex(newobj, it.key, NULL))
			object_put_key(patch, it.key, NULL);
	}
	return FROM_JSONC(patch);
}
