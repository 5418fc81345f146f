/*-------------------------------------------------------------------------
 *
 * cf_json.h
 *		  The only window onto json-c.
 *
 * json-c's headers cannot live next to PostgreSQL's utils/builtins.h (both
 * declare json_object), so no other file of ours includes them.
 *
 * Ownership rule: json-c allocates with malloc, so every value this API
 * creates or parses is tracked by a PostgreSQL memory context and released
 * when that context is reset or deleted, error paths included.  A value
 * obtained from cfj_get() or cfj_array_get() is borrowed from its parent.
 * Attaching a value to a container takes a new reference, so borrowed and
 * owned values can both be attached freely.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CF_JSON_H
#define CF_JSON_H

/* Include postgres.h first (MemoryContext, bool, size_t). */
#include "utils/palloc.h"

/* Deeper documents are refused: no cloud resource nests anywhere near this. */
#define CFJ_MAX_DEPTH 64

typedef struct CfJson CfJson;	/* opaque; a JSON null is a NULL pointer */

typedef enum CfJsonType
{
	CFJ_NULL,
	CFJ_BOOL,
	CFJ_NUMBER,
	CFJ_STRING,
	CFJ_ARRAY,
	CFJ_OBJECT
} CfJsonType;

/*
 * Parsing is strict JSON: no NaN or Infinity, and integers of any size kept
 * exactly.  cfj_parse raises an ERROR describing the first problem of a
 * response; cfj_parse_value returns it instead (NULL: parsed into *value).
 */
extern CfJson *cfj_parse(const char *text, size_t len, MemoryContext owner);
extern CfJson *cfj_parse_again(const char *text, size_t len, MemoryContext owner);
extern CfJson *cfj_try_parse(const char *text, size_t len, MemoryContext owner);
extern const char *cfj_parse_value(const char *text, size_t len, MemoryContext owner,
								   CfJson **value);

/* Reading */
extern CfJsonType cfj_type(const CfJson *value);
extern const char *cfj_type_name(CfJsonType type);
extern CfJson *cfj_get(const CfJson *object, const char *dotted_path);
extern bool cfj_has(const CfJson *object, const char *dotted_path);
extern void cfj_object_foreach(const CfJson *object,
							   void (*fn) (const char *key, CfJson *value, void *arg),
							   void *arg);
extern const char *cfj_string(const CfJson *value, size_t *len);
extern bool cfj_bool(const CfJson *value);
extern int	cfj_array_length(const CfJson *array);
extern CfJson *cfj_array_get(const CfJson *array, int index);
extern char *cfj_serialize(const CfJson *value);

/* Building */
extern CfJson *cfj_new_object(MemoryContext owner);
extern CfJson *cfj_new_array(MemoryContext owner);
extern CfJson *cfj_new_string(const char *str, size_t len, MemoryContext owner);
extern CfJson *cfj_new_bool(bool value, MemoryContext owner);
extern bool cfj_is_number(const char *literal);
extern CfJson *cfj_new_number(const char *literal, MemoryContext owner);
extern void cfj_array_append(CfJson *array, CfJson *value);
extern bool cfj_set_path(CfJson *object, const char *dotted_path,
						 CfJson *value, MemoryContext owner);
extern CfJson *cfj_merge_diff(const CfJson *old_value, const CfJson *new_value,
							  MemoryContext owner);

#endif							/* CF_JSON_H */
