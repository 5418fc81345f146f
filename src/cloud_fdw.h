/*-------------------------------------------------------------------------
 *
 * cloud_fdw.h
 *		  Internal declarations of cloud_fdw, grouped by the file that
 *		  defines them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLOUD_FDW_H
#define CLOUD_FDW_H

#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/execnodes.h"
#include "nodes/parsenodes.h"
#include "nodes/pathnodes.h"
#include "utils/relcache.h"
#include "utils/timestamp.h"

#include "cf_compat.h"
#include "cf_json.h"

/* ----------------------------------------------------------------
 * The registry (registry.c): cloud resources described as data
 * ----------------------------------------------------------------
 */

/* How requests prove who is calling; the user mapping's options choose within a style. */
typedef enum CfAuthStyle
{
	CF_AUTH_BEARER,				/* Authorization: Bearer <token> */
	CF_AUTH_HUAWEI				/* X-Auth-Token, AK/SK signing, or an IAM token */
} CfAuthStyle;

/* What an authenticated request is scoped to (Huawei: regional or global). */
typedef enum CfScope
{
	CF_SCOPE_NONE,
	CF_SCOPE_PROJECT,			/* a region's IAM project: X-Project-Id */
	CF_SCOPE_DOMAIN				/* the account: X-Domain-Id */
} CfScope;

/* How a list endpoint hands out its pages. */
typedef enum CfPageStyle
{
	CF_PAGE_CURSOR,				/* has_more + opaque next page or last id */
	CF_PAGE_OFFSET,				/* limit + offset (from 0), total count */
	CF_PAGE_NUMBER				/* page size + page number (from 1), total count */
} CfPageStyle;

typedef struct CfPagination
{
	CfPageStyle style;
	const char *items_path;		/* the array of items in a list response */
	const char *limit_param;	/* query parameter for the page size */
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
} CfPagination;

typedef struct CfProvider
{
	const char *name;			/* value of the server option "provider" */
	CfAuthStyle auth;
} CfProvider;

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

/* Where a call parameter goes. */
typedef enum CfParamIn
{
	CF_IN_PATH,					/* fills {name} in the path */
	CF_IN_QUERY					/* name=value in the query string */
} CfParamIn;

/*
 * A value a call takes from the query: from a qual "column = value" (or
 * IN, or a join) on the column mapped to "field", else from a table option.
 */
typedef struct CfCallParam
{
	const char *field;
	CfParamIn	in;
	const char *name;
	bool		required;
	const char *table_option;	/* supplies the value when no qual does */
	bool		fuzzy;			/* the API matches loosely: rows to recheck */
} CfCallParam;

typedef struct CfCall
{
	const char *method;
	const char *path;			/* with {placeholders} */
	const CfCallParam *params;
	int			nparams;
	const char *item_path;		/* the item in the response; NULL: the body */
	bool		returns_item;	/* false: get the item again after the call */
	const char *fixed_query;	/* sent with every call, or NULL */
} CfCall;

/* A field the API wants in an update body: always, or with when_path. */
typedef struct CfRequiredField
{
	const char *when_path;		/* NULL: in every body */
	const char *path;
	const char *default_value;	/* when the row does not carry it; NULL: error */
} CfRequiredField;

/* A field changed through a call of its own, such as enable/disable. */
typedef struct CfFieldAction
{
	const char *field;
	const char *value;			/* the field's new value, as text */
	const char *body;			/* JSON body of the action call */
	bool		before_update;	/* run before the update call, not after */
} CfFieldAction;

typedef struct CfResource
{
	const char *name;			/* value of the table option "resource" */
	const CfProvider *provider;
	const char *default_endpoint;	/* may contain {region} */
	CfScope		scope;
	const CfCall *list;
	const CfCall *get;
	const CfCall *update;		/* NULL: the resource cannot be updated */
	const CfCall *action;		/* the call of field actions, or NULL */
	const CfFieldAction *actions;
	int			nactions;
	const CfPagination *pagination;
	const CfColumn *columns;
	int			ncolumns;
	const CfRequiredField *required_fields;
	int			nrequired_fields;
	double		estimated_items;	/* planner's guess for a full listing */
	const char *fixed_key;		/* an item the API never lets change, or NULL */
	const char *fixed_key_reason;
} CfResource;

extern const CfProvider *cf_find_provider(const char *name);
extern const CfResource *cf_find_resource(const CfProvider *provider, const char *name);
extern char *cf_provider_names(void);
extern char *cf_resource_names(const CfProvider *provider);
extern List *cf_provider_resources(const CfProvider *provider);
extern List *cf_resources_named(const char *name);
extern bool cf_is_param_option(const char *name);
extern char *cf_param_option_names(void);
extern char *cf_action_values(const CfResource *resource, const char *field);
extern const CfColumn *cf_find_column(const CfResource *resource, const char *path);
extern bool cf_is_param_field(const CfResource *resource, const char *field);
extern const CfColumn *cf_key_column(const CfResource *resource);
extern const CfColumn *cf_governing_column(const CfResource *resource, const char *path);
extern bool cf_column_allows(const CfColumn *column, const char *value);
extern char *cf_column_values(const CfColumn *column);

/* ----------------------------------------------------------------
 * Options (option.c)
 * ----------------------------------------------------------------
 */

/* Everything a scan or an update needs to know, table options winning. */
typedef struct CfOptions
{
	Oid			serverid;
	char	   *server_name;
	const CfProvider *provider;
	const CfResource *resource;
	char	   *endpoint;		/* base URL without trailing slash */
	char	   *region;
	char	   *iam_endpoint;
	char	   *domain_id;
	char	   *iam_project_id;
	List	   *param_options;	/* table options that supply call parameters */
	int			connect_timeout_ms;
	int			request_timeout_ms;
	int			page_size;
	size_t		max_response_size;
	int			concurrency;	/* requests on their way at once */
	int			max_retries;	/* of a request that failed in a retryable way */
	bool		allow_http;		/* plain http to hosts other than loopback */
	char	   *ca_file;		/* CA certificates to verify servers with */
	double		rate_limit;		/* requests per second; 0: no limit */
	int			request_latency_ms; /* the planner's guess of one round trip */
	double		estimated_items;	/* the planner's guess of a full listing */
	bool		estimated_items_given;	/* by the table option, which beats ANALYZE */
} CfOptions;

/* Credentials of one user mapping; never logged, never shown. */
typedef struct CfCredentials
{
	char	   *token;			/* Qoder bearer token */
	char	   *auth_token;		/* Huawei: X-Auth-Token */
	char	   *security_token; /* Huawei: temporary credentials */
	char	   *access_key;		/* Huawei: AK/SK signing */
	char	   *secret_key;
	char	   *user;			/* Huawei: IAM password login */
	char	   *password;
	char	   *domain_name;
	char	   *project;		/* IAM project name to scope to; default: region */
	char	   *domain_id;		/* X-Domain-Id of AK/SK requests to global services */
	char	   *iam_project_id; /* X-Project-Id of AK/SK requests to regional ones */
} CfCredentials;

extern Datum cloud_fdw_validator(PG_FUNCTION_ARGS);
extern void cf_get_options(Oid foreigntableid, CfOptions *opts);
extern void cf_get_credentials(UserMapping *user, const CfOptions *opts,
							   CfCredentials *creds);
extern const char *cf_param_option(const CfOptions *opts, const char *name);
extern char *cf_column_path(Oid relid, AttrNumber attnum);
extern char *cf_column_option(Oid relid, AttrNumber attnum, const char *name);
extern AttrNumber cf_key_attnum(Relation rel, const CfResource *resource);
extern const CfResource *cf_table_resource(Oid foreigntableid);

/* ----------------------------------------------------------------
 * Connection cache (connection.c): one curl handle per user mapping
 * ----------------------------------------------------------------
 */
typedef struct CfConnection CfConnection;

extern CfConnection *cf_get_connection(UserMapping *user);
extern Datum cloud_fdw_get_connections(PG_FUNCTION_ARGS);
extern Datum cloud_fdw_disconnect_all(PG_FUNCTION_ARGS);

/* ----------------------------------------------------------------
 * HTTP (http.c): interruptible requests over a cached handle
 * ----------------------------------------------------------------
 */
typedef struct CfHttpRequest
{
	const char *method;
	const char *endpoint;		/* base URL */
	const char *path;			/* path and query below the endpoint */
	const char *body;			/* NULL: no body */
	const CfCredentials *creds;
	const CfOptions *opts;
	bool		anonymous;		/* send no credentials (an IAM login) */
	bool		idempotent;		/* safe to resend although not a GET (a login) */
	bool		secret_body;	/* never show the body (it holds a password) */
} CfHttpRequest;

typedef struct CfHttpResponse
{
	long		status;
	char	   *body;			/* NUL-terminated, palloc'd */
	size_t		body_len;
	char	   *request_id;		/* x-request-id header, or NULL */
	char	   *subject_token;	/* X-Subject-Token header (IAM), or NULL */
	int			retries;		/* attempts before the one answered */
} CfHttpResponse;

#define CF_JSON_CONTENT_TYPE "application/json"

extern bool cloud_fdw_trace;

/* The highest "concurrency" option: requests one scan or update keeps on their way. */
#define CF_MAX_CONCURRENCY 64

/* Transfers one connection may have on their way, over all its scans and updates. */
#define CF_MAX_TRANSFERS 1024

extern void cf_http_init(void);
extern void *cf_http_open(void);
extern void cf_http_close(void *handle);
extern void cf_http_abort(void *handle, SubTransactionId subid);
extern void cf_http_abort_all(void *handle);
extern int	cf_http_start(CfConnection *conn, const CfHttpRequest *req, MemoryContext cxt);
extern int	cf_http_wait(CfConnection *conn, int slot);
extern int	cf_http_wait_any(CfConnection *conn, const int *slots, int nslots);
extern void cf_http_finish(CfConnection *conn, int slot, CfHttpResponse *resp);
extern bool cf_http_writes_in_flight(void *handle);
extern void cf_send_request(CfConnection *conn, const CfHttpRequest *req,
							CfHttpResponse *resp);

/* connection.c's bookkeeping around a request (used by http.c, auth.c) */
extern void *cf_connection_handle(CfConnection *conn);
extern void cf_connection_count_request(CfConnection *conn);
extern void cf_connection_add_connects(CfConnection *conn, long new_connects);
extern void cf_connection_mark_write(CfConnection *conn);
extern const char *cf_connection_get_token(CfConnection *conn, CfScope scope,
										   TimestampTz *expires);
extern void cf_connection_set_token(CfConnection *conn, CfScope scope,
									const char *token, TimestampTz expires);

/* ----------------------------------------------------------------
 * What UPDATEs changed remotely (ledger.c)
 * ----------------------------------------------------------------
 */
typedef struct CfLedger CfLedger;

extern CfLedger *cf_ledger_open(const char *relname);
extern bool cf_ledger_first_visit(CfLedger *ledger, const char *key);
extern void cf_ledger_sent(CfLedger *ledger, const char *key);
extern void cf_ledger_answered(CfLedger *ledger, const char *key, bool applied);
extern void cf_ledger_report(CfLedger *ledger);
extern void cf_ledger_close(CfLedger *ledger);

/* ----------------------------------------------------------------
 * IMPORT FOREIGN SCHEMA (import.c)
 * ----------------------------------------------------------------
 */
extern List *cf_import_foreign_schema(ImportForeignSchemaStmt *stmt, Oid serverOid);

/* ----------------------------------------------------------------
 * Authentication (auth.c, huawei_sign.c)
 * ----------------------------------------------------------------
 */
extern List *cf_auth_headers(CfConnection *conn, const CfHttpRequest *req,
							 const char *url, bool *cached_token);
extern void cf_auth_forget_token(CfConnection *conn, const CfHttpRequest *req);
extern char *cf_huawei_authorization(const char *method, const char *path,
									 const char *query, List *headers,
									 const char *body, size_t body_len,
									 const char *access_key, const char *secret_key);
extern Datum cloud_fdw_huawei_signature(PG_FUNCTION_ARGS);

/* ----------------------------------------------------------------
 * Remote errors (error.c): the one place mapping them to SQLSTATEs
 * ----------------------------------------------------------------
 */
pg_noreturn extern void cf_report_http_error(const CfHttpRequest *req,
											 const CfHttpResponse *resp);
pg_noreturn extern void cf_report_transfer_error(const CfHttpRequest *req, int curl_code,
												 const char *curl_message);
extern void cf_push_error_context(ErrorContextCallback *callback,
								  void (*fn) (void *), void *arg);
extern void cf_push_request_context(ErrorContextCallback *callback,
									const CfHttpRequest *req);
extern char *cf_utf8_to_display(const char *utf8, size_t len);
extern bool cf_is_api_error(const CfHttpResponse *resp);

/* ----------------------------------------------------------------
 * Requests (request.c): paths, pages and update bodies
 * ----------------------------------------------------------------
 */
typedef struct CfColumnMap CfColumnMap;

/* The value a call parameter gets, by the field it stands for. */
typedef struct CfParamValue
{
	const char *field;
	const char *value;
} CfParamValue;

typedef struct CfPageCursor
{
	char	   *next_query;		/* paging query of the next page; NULL: done */
	List	   *seen;			/* cursors already followed, to stop loops */
	int64		position;		/* offset, or page number, of the next page */
} CfPageCursor;

/* What one updated row sends. */
typedef struct CfRowUpdate
{
	CfJson	   *body;			/* of the update call; NULL: no update call */
	List	   *actions_before; /* CfFieldAction, before the update call */
	List	   *actions_after;	/* CfFieldAction, after it */
} CfRowUpdate;

extern bool cf_key_is_addressable(const char *key);
extern int	cf_compare_strings(const ListCell *a, const ListCell *b);
extern char *cf_call_request(const CfCall *call, const CfParamValue *values,
							 int nvalues, const CfOptions *opts, bool explain);
extern char *cf_page_request(const char *call_request, const CfPageCursor *cursor);
extern void cf_first_page(const CfResource *resource, int page_size, CfPageCursor *cursor);
extern char *cf_first_page_query(const CfResource *resource, int page_size);
extern void cf_advance_cursor(const CfResource *resource, int page_size,
							  const CfJson *page, const CfJson *items,
							  CfPageCursor *cursor);
extern CfJson *cf_page_items(const CfResource *resource, const CfJson *page);
extern void cf_plan_row_update(const CfResource *resource, CfColumnMap *maps,
							   List *target_attrs, int natts,
							   Datum *oldvalues, bool *oldnulls,
							   Datum *newvalues, bool *newnulls,
							   MemoryContext owner, CfRowUpdate *update);

/* ----------------------------------------------------------------
 * Conversion between JSON and column values (convert.c)
 * ----------------------------------------------------------------
 */
extern CfColumnMap *cf_column_maps(Relation rel, const CfResource *resource,
								   Bitmapset *attrs);
extern void cf_store_item(CfColumnMap *maps, CfJson *item, const CfParamValue *fallback,
						  int nfallback, TupleTableSlot *slot);
extern char *cf_datum_to_text(CfColumnMap *maps, AttrNumber attnum, Datum value);
extern char *cf_key_text(Oid basetype, char *text);
extern char *cf_datum_to_key(CfColumnMap *maps, AttrNumber attnum, Datum value);
extern const char *cf_column_map_name(CfColumnMap *maps, AttrNumber attnum);
extern CfJson *cf_datum_to_json(CfColumnMap *maps, AttrNumber attnum,
								Datum value, bool isnull, MemoryContext owner);
extern bool cf_datums_equal(CfColumnMap *maps, AttrNumber attnum, Datum a, Datum b);
extern const char *cf_column_map_path(CfColumnMap *maps, AttrNumber attnum);
extern bool cf_column_map_is_json(CfColumnMap *maps, AttrNumber attnum);

/* ----------------------------------------------------------------
 * FDW callbacks: planning (plan.c), scanning (scan.c), ANALYZE (analyze.c),
 * updating (modify.c)
 * ----------------------------------------------------------------
 */

/* Indexes into a ForeignScan's fdw_private, written by plan.c. */
enum CfScanPrivate
{
	CF_SCAN_IS_GET,				/* Integer: get call (1) or list call (0) */
	CF_SCAN_ATTRS,				/* IntList of attribute numbers to convert */
	CF_SCAN_FIELDS,				/* List of String: field of each fdw_expr */
	CF_SCAN_ARRAYS,				/* IntList: whether each fdw_expr is an array */
	CF_SCAN_LIMIT				/* Integer: rows the query needs at most, or 0 */
};

extern void cloudGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel,
								   Oid foreigntableid);
extern void cloudGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel,
								 Oid foreigntableid);
extern ForeignScan *cloudGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel,
										Oid foreigntableid, ForeignPath *best_path,
										List *tlist, List *scan_clauses, Plan *outer_plan);

extern void cloudExplainForeignScan(ForeignScanState *node, ExplainState *es);
extern void cloudBeginForeignScan(ForeignScanState *node, int eflags);
extern TupleTableSlot *cloudIterateForeignScan(ForeignScanState *node);
extern void cloudReScanForeignScan(ForeignScanState *node);
extern void cloudEndForeignScan(ForeignScanState *node);

extern bool cloudAnalyzeForeignTable(Relation relation, AcquireSampleRowsFunc *func,
									 BlockNumber *totalpages);

extern int	cloudIsForeignRelUpdatable(Relation rel);
extern void cloudAddForeignUpdateTargets(PlannerInfo *root, Index rtindex,
										 RangeTblEntry *target_rte, Relation target_relation);
extern List *cloudPlanForeignModify(PlannerInfo *root, ModifyTable *plan,
									Index resultRelation, int subplan_index);
extern void cloudBeginForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
									List *fdw_private, int subplan_index, int eflags);
extern TupleTableSlot *cloudExecForeignUpdate(EState *estate, ResultRelInfo *rinfo,
											  TupleTableSlot *slot, TupleTableSlot *planSlot);
extern void cloudEndForeignModify(EState *estate, ResultRelInfo *rinfo);
extern void cloudExplainForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
									  List *fdw_private, int subplan_index,
									  ExplainState *es);

#endif							/* CLOUD_FDW_H */
