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

#include <limits.h>
#include <json-c/json.h>

#include "cf_json.h"

/* Deeper documents are refused: no cloud resource nests anywhere near this. */
#define CFJ_MAX_DEPTH 64

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
 * Parse a whole document.  On failure, returns NULL with *problem and
 * *detail set (detail may be NULL); a JSON null also returns NULL but with
 * *problem NULL.
 */
static CfJson *
parse_document(const char *text, size_t len, MemoryContext owner,
			   const char **problem, char **detail)
{
	CfjTracked *tracked;
	struct json_tokener *tok;
	struct json_object *value;
	enum json_tokener_error err;
	size_t		consumed;

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
	tok = json_tokener_new_ex(CFJ_MAX_DEPTH);
	if (tok == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while parsing JSON")));
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	value = json_tokener_parse_ex(tok, text, (int) len);
	err = json_tokener_get_error(tok);
	consumed = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);

	if (err == json_tokener_continue)
	{
		*problem = "The document ends unexpectedly.";
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
	if (value == NULL)			/* the document is a JSON null */
		return NULL;
	return track(tracked, value, owner);
}

CfJson *
cfj_parse(const char *text, size_t len, MemoryContext owner)
{
	const char *problem;
	char	   *detail;
	CfJson	   *doc = parse_document(text, len, owner, &problem, &detail);

	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_JSON_TEXT),
				 errmsg("invalid JSON in response"),
				 detail ? errdetail("%s (%s)", problem, detail)
				 : errdetail("%s", problem)));
	return doc;
}

/* Like cfj_parse, but NULL instead of an error: for bodies that may be HTML. */
CfJson *
cfj_try_parse(const char *text, size_t len, MemoryContext owner)
{
	const char *problem;
	char	   *detail;

	return parse_document(text, len, owner, &problem, &detail);
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

/* A number kept exactly as PostgreSQL printed it, so numeric loses nothing. */
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
		else if (!json_object_equal(oldchild, it.val))
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
