/*-------------------------------------------------------------------------
 *
 * registry.h
 *		  The resource author's contract: providers, calls, parameters,
 *		  pagination and columns, declared as constant data in registry.c.
 *
 * A new resource is a CfResource of calls and columns; a new provider is a
 * CfProvider of authentication methods, an error envelope and its own
 * server options.  The engine reads nothing else.
 *
 * Include postgres.h first.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLOUD_FDW_REGISTRY_H
#define CLOUD_FDW_REGISTRY_H

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

/* ----------------------------------------------------------------
 * Options: one table says, for every option, everything about it
 * ----------------------------------------------------------------
 */

/* Where an option may be set (a bit set). */
#define CF_ON_SERVER	0x01
#define CF_ON_MAPPING	0x02
#define CF_ON_TABLE		0x04
#define CF_ON_COLUMN	0x08

typedef enum CfOptionType
{
	CF_OPT_STRING,
	CF_OPT_INT,					/* decimal digits, within [min, max] */
	CF_OPT_MS,					/* a duration, "30s", in milliseconds */
	CF_OPT_BYTES,				/* a size, "64MB" */
	CF_OPT_REAL,				/* within [min, max] */
	CF_OPT_BOOL,
	CF_OPT_ENUM,				/* one of "values" */
	CF_OPT_URL					/* http(s), no query; kept without trailing "/" */
} CfOptionType;

typedef struct DefElem CfDefElem;	/* checks receive the option as given */

typedef struct CfOptionDef
{
	const char *name;
	int			where;			/* CF_ON_* bits */
	CfOptionType type;
	double		min;			/* CF_OPT_INT, CF_OPT_REAL */
	double		max;
	const char *const *values;	/* CF_OPT_ENUM, NULL-terminated */
	const char *default_value;	/* NULL: unset */
	bool		zero_is_off;	/* CF_OPT_MS: 0 is allowed, and means "off" */
	int			offset;			/* field of CfOptions it lands in, or -1 */
	bool		is_credential;	/* only ever in a user mapping, never shown */
	void		(*check) (CfDefElem *def);	/* more checks, or NULL */
	const char *expected;		/* what a valid value looks like, for messages */
} CfOptionDef;

/* ----------------------------------------------------------------
 * Providers: how requests authenticate and how errors look
 * ----------------------------------------------------------------
 */

/* What an authenticated request is scoped to (Huawei: regional or global). */
typedef enum CfScope
{
	CF_SCOPE_NONE,
	CF_SCOPE_PROJECT,			/* a region's IAM project: X-Project-Id */
	CF_SCOPE_DOMAIN				/* the account: X-Domain-Id */
} CfScope;

#define CF_NSCOPES (CF_SCOPE_DOMAIN + 1)

struct CfCredentials;
struct CfOptions;
struct CfAuthRequest;
struct CfLoginRequest;
struct CfHttpResponse;

/*
 * One way of proving who calls: the user mapping options that choose it
 * (all required together), those it also accepts, and what it does, none
 * of which is I/O.  A method with a login exchanges the credentials for a
 * token first: login() describes the request, take_login() reads its
 * answer, and sign() then gets the token.
 */
typedef struct CfAuthMethod
{
	const char *description;	/* for messages: "an AK/SK pair" */
	const char *const *options; /* NULL-terminated */
	const char *const *optional;
	List	   *(*sign) (const struct CfAuthRequest *req);
	void		(*login) (const struct CfCredentials *creds, const struct CfOptions *opts,
						  CfScope scope, struct CfLoginRequest *login);
	char	   *(*take_login) (const struct CfHttpResponse *resp, TimestampTz *expires);
} CfAuthMethod;

/* Where an API's error answers keep their code and message. */
typedef struct CfErrorEnvelope
{
	const char *nested;			/* object holding them, else the top level */
	const char *const *code_keys;	/* NULL-terminated, first found wins */
	const char *const *message_keys;
	const char *request_id_key; /* in the body, when no x-request-id header */
} CfErrorEnvelope;

typedef struct CfProvider
{
	const char *name;			/* value of the server option "provider" */
	const CfAuthMethod *methods;
	int			nmethods;
	const CfErrorEnvelope *envelope;
	const CfOptionDef *options; /* options of this provider only */
	int			noptions;
} CfProvider;

/* ----------------------------------------------------------------
 * Calls and their parameters
 * ----------------------------------------------------------------
 */

/* Where a call parameter (or paging) goes. */
typedef enum CfParamIn
{
	CF_IN_PATH,					/* fills {name} in the path */
	CF_IN_QUERY,				/* name=value in the query string */
	CF_IN_BODY					/* a member of the JSON body, at dotted path name */
} CfParamIn;

/* How a body parameter's value is written. */
typedef enum CfParamShape
{
	CF_SHAPE_SCALAR,			/* "value" */
	CF_SHAPE_LIST,				/* ["value"] */
	CF_SHAPE_MATCH				/* [{"key": match_key, "value": "value"}] */
} CfParamShape;

/*
 * A value a call takes from the query: from a qual "column = value" (or
 * IN, or a join) on the column mapped to "field", else from a table option.
 * A write call takes it from the row it changes.
 */
typedef struct CfCallParam
{
	const char *field;
	CfParamIn	in;
	const char *name;
	bool		required;
	const char *table_option;	/* supplies the value when no qual does */
	bool		fuzzy;			/* the API matches loosely: rows to recheck */
	CfParamShape shape;
	const char *match_key;		/* CF_SHAPE_MATCH */
	bool		new_value;		/* a write takes the row's new value (a move's target) */
	bool		empty_omits;	/* "" leaves the parameter out, and so matches items without one */
	const char *hint;			/* how a query gives the value, for messages, or NULL */
} CfCallParam;

typedef struct CfCall
{
	const char *method;
	const char *path;			/* with {placeholders} */
	const CfCallParam *params;
	int			nparams;
	bool		writes;			/* may change the cloud: sent once, never blindly again */
	const char *item_path;		/* the item in the answer; NULL: the body */
	bool		returns_item;	/* the answer holds the item */
	const char *fixed_query;	/* sent with every call, or NULL */
	const char *fixed_body;		/* JSON object sent with every call, or NULL */
} CfCall;

/* How a list call hands out its pages. */
typedef enum CfPageStyle
{
	CF_PAGE_CURSOR,				/* has_more + opaque next page or last id */
	CF_PAGE_OFFSET,				/* limit + offset (from 0), total count */
	CF_PAGE_NUMBER				/* page size + page number (from 1), total count */
} CfPageStyle;

typedef struct CfPagination
{
	CfPageStyle style;
	CfParamIn	in;				/* CF_IN_QUERY or CF_IN_BODY */
	const char *items_path;		/* the array of items in a list answer */
	const char *limit_param;	/* the page size */
	int			max_page_size;
	/* CF_PAGE_CURSOR */
	const char *has_more_path;	/* boolean: another page follows */
	const char *next_page_path; /* opaque cursor, preferred when present */
	const char *next_page_param;
	const char *last_id_path;	/* fallback cursor: the last item's id */
	const char *after_id_param;
	/* CF_PAGE_OFFSET and CF_PAGE_NUMBER */
	const char *position_param; /* offset, or page number */
	const char *total_path;		/* number of items in all pages */
	/* failures of a part (a region, a type) inside a successful answer */
	const char *partial_errors_path;
} CfPagination;

/* ----------------------------------------------------------------
 * Columns and updates
 * ----------------------------------------------------------------
 */

/* Column flags */
#define CF_COL_KEY			0x01	/* identifies an item: row identity of UPDATE */
#define CF_COL_UPDATABLE	0x02	/* the update call accepts this field */
#define CF_COL_NOT_NULL		0x04	/* the update call refuses a null */
#define CF_COL_OBJECT		0x08	/* the API wants a JSON object here */

/* Rules the API puts on a text field, checked before anything is sent. */
typedef struct CfTextRule
{
	int			min_chars;
	int			max_chars;
	const char *allowed_ascii;	/* besides letters and digits; NULL: anything */
	bool		allow_cjk;		/* CJK ideographs, the only non-ASCII allowed */
	const char *forbidden;		/* a value refused in any letter case, or NULL */
} CfTextRule;

typedef struct CfColumn
{
	const char *name;			/* column name in IMPORT FOREIGN SCHEMA */
	const char *path;			/* dotted JSON path inside an item */
	const char *type;			/* SQL type in IMPORT FOREIGN SCHEMA */
	int			flags;
	const CfTextRule *rule;		/* checked on update, or NULL */
	const char *zone;			/* time zone of timestamps sent without one */
	const char *const *values;	/* the API's enumeration (NULL-terminated), or NULL */
} CfColumn;

/* A field the API wants in an update body: always, or with when_path. */
typedef struct CfRequiredField
{
	const char *when_path;		/* NULL: in every body */
	const char *path;
	const char *default_value;	/* when the row does not carry it; NULL: error */
} CfRequiredField;

/*
 * A field changed through a call of its own (enable/disable, a move).
 * value NULL: any new value, which the call takes as a new_value parameter.
 */
typedef struct CfFieldAction
{
	const char *field;
	const char *value;			/* the field's new value, as text, or NULL */
	const CfCall *call;
	const char *body;			/* JSON body, or NULL: the call's body parameters */
	bool		before_update;	/* run before the update call, not after */
} CfFieldAction;

typedef struct CfResource
{
	const char *name;			/* value of the table option "resource" */
	const CfProvider *provider;
	const char *default_endpoint;	/* may contain {option} of the provider */
	CfScope		scope;
	const CfCall *list;
	const CfCall *get;			/* NULL: items are only listed */
	const CfCall *update;		/* NULL: no update call (actions may still change fields) */
	const CfCall *refetch;		/* gives the row after a write that answers none, or NULL */
	const CfFieldAction *actions;
	int			nactions;
	const char *no_returning_reason;	/* why RETURNING cannot be served, or NULL */
	const CfPagination *pagination;
	const CfColumn *columns;
	int			ncolumns;
	const CfRequiredField *required_fields;
	int			nrequired_fields;
	double		estimated_items;	/* planner's guess for a full listing */
	const char *fixed_key;		/* an item the API never lets change, or NULL */
	const char *fixed_key_reason;
} CfResource;

/* ----------------------------------------------------------------
 * Lookups (registry.c)
 * ----------------------------------------------------------------
 */
extern const CfProvider *cf_find_provider(const char *name);
extern const CfResource *cf_find_resource(const CfProvider *provider, const char *name);
extern char *cf_provider_names(void);
extern char *cf_resource_names(const CfProvider *provider);
extern List *cf_provider_resources(const CfProvider *provider);
extern List *cf_resources_named(const char *name);
extern const CfOptionDef *cf_find_provider_option(const char *name, int where,
												  const CfProvider **provider);
extern bool cf_is_param_option(const char *name);
extern char *cf_param_option_names(void);
extern char *cf_action_values(const CfResource *resource, const char *field);
extern const CfColumn *cf_find_column(const CfResource *resource, const char *path);
extern const CfCallParam *cf_call_param(const CfCall *call, const char *field);
extern bool cf_is_param_field(const CfResource *resource, const char *field);
extern const CfColumn *cf_key_column(const CfResource *resource);
extern const CfColumn *cf_governing_column(const CfResource *resource, const char *path);
extern bool cf_column_allows(const CfColumn *column, const char *value);
extern char *cf_column_values(const CfColumn *column);
extern bool cf_resource_is_updatable(const CfResource *resource);
extern List *cf_registry_problems(const CfResource *resource, int *ncalls);
extern int	cf_provider_count(void);
extern const CfProvider *cf_provider_at(int index);
extern int	cf_resource_count(void);
extern const CfResource *cf_resource_at(int index);

#endif							/* CLOUD_FDW_REGISTRY_H */
