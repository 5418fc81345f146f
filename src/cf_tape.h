/*-------------------------------------------------------------------------
 *
 * cf_tape.h
 *		  Answers read in place: a tape of the values of a JSON text.
 *
 * One validating pass over a response records, for every value, its type,
 * where its text is and how far away its next sibling is; nothing else is
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

/* A value on a tape; a missing member is a NULL pointer, a JSON null is not. */
typedef struct CfNode CfNode;

extern CfTape *cf_tape_create(MemoryContext cxt);
extern const CfNode *cf_tape_parse(CfTape *tape, const char *text, size_t len, bool validated);
extern const CfNode *cf_tape_try_parse(CfTape *tape, const char *text, size_t len);

/* Reading */
extern CfJsonType cfn_type(const CfNode *node);
extern const CfNode *cfn_get(const CfNode *object, const char *dotted_path);
extern const CfNode *cfn_child(const CfNode *container);
extern const CfNode *cfn_next(const CfNode *node);
extern int	cfn_count(const CfNode *container);
extern const CfNode *cfn_array_get(const CfNode *array, int index);
extern bool cfn_bool(const CfNode *node);
extern const char *cfn_string_view(const CfNode *node, size_t *len);
extern char *cfn_cstring(const CfNode *node, size_t *len);
extern bool cfn_escaped(const CfNode *node);
extern char *cfn_number_text(const CfNode *node);
extern const char *cfn_text(const CfNode *node, size_t *len);

/* The same value as json-c sees it, for what needs one: its text, its members. */
extern CfJson *cfn_to_json(const CfNode *node, MemoryContext owner);
extern char *cfn_serialize(const CfNode *node);

#endif							/* CF_TAPE_H */
