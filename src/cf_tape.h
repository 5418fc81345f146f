/*-------------------------------------------------------------------------
 *
 * cf_tape.h
 *		  Answers read in place: a tape of the values of a JSON text.
 *
 * One validating pass over a response records, for every value, its type,
 * where its text is and how many nodes it spans; nothing else is
 * allocated until a column asks for a value, and a lookup skips whole
 * subtrees.  A node points into the text, so the text must outlive the
 * tape's use, and parsing again into a tape ends the life of its nodes.
 *
 * Include postgres.h first.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CF_TAPE_H
#define CF_TAPE_H

#include "cf_json.h"

typedef struct CfTape CfTape;

/*
 * A value on a tape; a missing member is a NULL pointer, a JSON null is
 * not.  A container's contents follow it, an object's as key, value, key,
 * value...; the value after a value is span nodes further.  Only tape.c
 * writes a node: the accessors below are inline because every column of
 * every row reads through them.
 */
typedef struct CfNode
{
	const char *text;			/* the value's first byte: a string's quote */
	uint32		len;			/* bytes of its text, quotes and contents included */
	uint32		span;			/* nodes of the value, its contents included */
	uint32		count;			/* array: elements; object: members */
	uint8		type;			/* CfJsonType */
	bool		escaped;		/* a string with a backslash escape */
} CfNode;

extern CfTape *cf_tape_create(MemoryContext cxt);
extern const CfNode *cf_tape_parse(CfTape *tape, const char *text, size_t len, bool validated);
extern const CfNode *cf_tape_try_parse(CfTape *tape, const char *text, size_t len);

/* Reading */
static inline CfJsonType
cfn_type(const CfNode *node)
{
	return node ? (CfJsonType) node->type : CFJ_NULL;
}

/* The node after a value and its contents: in an object, a key's value. */
static inline const CfNode *
cfn_skip(const CfNode *node)
{
	return node + node->span;
}

/* The first element of an array or key of an object, if it has one. */
static inline const CfNode *
cfn_first(const CfNode *container)
{
	return container + 1;
}

/* Where a container's contents end (a scalar has none). */
static inline const CfNode *
cfn_end(const CfNode *container)
{
	return container + container->span;
}

/* Each element of an array (none of a scalar). */
#define cfn_foreach_element(element, array) \
	for (const CfNode *element = cfn_first(array), *element##_end = cfn_end(array); \
		 element < element##_end; element = cfn_skip(element))

/* Each key of an object, whose value is cfn_skip(key) (none of a scalar). */
#define cfn_foreach_member(key, object) \
	for (const CfNode *key = cfn_first(object), *key##_end = cfn_end(object); \
		 key < key##_end; key = cfn_skip(cfn_skip(key)))

/* Elements of an array, members of an object; 0 for anything else. */
static inline int
cfn_count(const CfNode *container)
{
	CfJsonType	type = cfn_type(container);

	return (type == CFJ_ARRAY || type == CFJ_OBJECT) ? (int) container->count : 0;
}

static inline bool
cfn_bool(const CfNode *node)
{
	return node->text[0] == 't';
}

static inline bool
cfn_escaped(const CfNode *node)
{
	return node->escaped;
}

/* The value's text as the answer has it. */
static inline const char *
cfn_text(const CfNode *node, size_t *len)
{
	*len = node->len;
	return node->text;
}

extern const CfNode *cfn_get(const CfNode *object, const char *dotted_path);
extern const CfNode *cfn_array_get(const CfNode *array, int index);
extern const char *cfn_string_view(const CfNode *node, size_t *len);
extern char *cfn_cstring(const CfNode *node, size_t *len);
extern char *cfn_number_text(const CfNode *node);

/* Many paths looked up in each of many objects at once. */
typedef struct CfPathSet CfPathSet;

extern CfPathSet *cfn_compile_paths(const char *const *paths, int npaths);
extern void cfn_find_paths(const CfNode *object, CfPathSet *set, const CfNode **values);

/* The same value as json-c sees it, for what needs one: its text, its members. */
extern CfJson *cfn_to_json(const CfNode *node, MemoryContext owner);
extern char *cfn_serialize(const CfNode *node);

#endif							/* CF_TAPE_H */
