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
#include "cf_tape.h"
#include "http.h"
#include "registry.h"

/* ----------------------------------------------------------------
 * Options (option.c)
 * ----------------------------------------------------------------
 */

/* What a partial failure inside a successful answer does (on_partial_error). */
typedef enum CfPartialErrors
{
	CF_PARTIAL_ERROR,			/* the statement fails */
	CF_PARTIAL_WARN				/* the rows that came, and a WARNING */
} CfPartialErrors;

/* Everything a scan or an update needs to know, table options winning. */
typedef struct CfOptions
{
	Oid			serverid;
	char	   *server_name;
	const CfProvider *provider;
	const CfResource *resource;
	char	   *endpoint;		/* base URL without trailing slash */
	List	   *provider_options;	/* DefElem: the provider's own options */
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
	int			on_partial_error;	/* CfPartialErrors */
	int			on_partition_error; /* CfPartialErrors: of the whole table */
	bool		async_capable;	/* may run concurrently under an Append */
	int			cache_ttl_ms;	/* answers are cached this long; 0: not */
} CfOptions;

/*
 * Credentials of one user mapping, for the authentication method they
 * choose; never logged, never shown.  The provider's options that may also
 * be set on the server (an account id) are there too, the mapping winning.
 */
typedef struct CfCredentials
{
	const CfAuthMethod *method; /* NULL: none (a superuser's choice) */
	List	   *values;			/* DefElem */
} CfCredentials;

extern Datum cloud_fdw_validator(PG_FUNCTION_ARGS);
extern void cf_get_options(Oid foreigntableid, CfOptions *opts);
extern void cf_get_server_options(ForeignServer *server, CfOptions *opts);
extern void cf_get_credentials(UserMapping *user, const CfOptions *opts,
							   CfCredentials *creds);
extern const char *cf_credential(const CfCredentials *creds, const char *name);
extern const CfProvider *cf_server_provider(ForeignServer *server);
extern void cf_check_region(DefElem *def);
extern const char *cf_provider_option(const CfOptions *opts, const char *name);
extern const char *cf_param_option(const CfOptions *opts, const char *name);
extern char *cf_column_path(Oid relid, AttrNumber attnum);
extern char *cf_column_option(Oid relid, AttrNumber attnum, const char *name);
extern AttrNumber cf_key_attnum(Relation rel, const CfResource *resource);
extern Const *cf_fixed_value(Oid relid, Form_pg_attribute att);
extern bool cf_column_is_fixed(Oid relid, AttrNumber attnum);
extern const CfResource *cf_table_resource(Oid foreigntableid);

/* ----------------------------------------------------------------
 * Connection cache (connection.c): one HTTP handle per user mapping
 * ----------------------------------------------------------------
 */
typedef struct CfConnection CfConnection;

/* IAM tokens of a connection, by scope, bought with its credentials. */
typedef struct CfTokenCache
{
	char	   *tokens[CF_NSCOPES];
	TimestampTz expires[CF_NSCOPES];
} CfTokenCache;

extern CfConnection *cf_get_connection(UserMapping *user);
extern CfHttpHandle *cf_connection_http(CfConnection *conn);
extern CfTokenCache *cf_connection_tokens(CfConnection *conn);
extern CfHttpHandle *cf_connection_open_http(CfConnection *conn);
extern void cf_connection_mark_write(CfConnection *conn);
extern Datum cloud_fdw_get_connections(PG_FUNCTION_ARGS);
extern Datum cloud_fdw_disconnect_all(PG_FUNCTION_ARGS);

/* ----------------------------------------------------------------
 * Request budgets per credential identity (budget.c)
 * ----------------------------------------------------------------
 */
extern Size cf_budget_shmem_size(void);
extern void cf_budget_attach_shmem(void);
extern TimestampTz cf_budget_next_start(uint64 identity, double rate, long retry_after_ms);

/* ----------------------------------------------------------------
 * The cache of read answers (cache.c)
 * ----------------------------------------------------------------
 */

/* A SHA-256 of the provider and the credentials: never the secret itself. */
#define CF_IDENTITY_LEN 32

/* Whose an entry is, and what dropping it goes by. */
typedef struct CfCacheScope
{
	uint8		identity[CF_IDENTITY_LEN];
	uint32		resource;		/* hash of provider and resource names */
	uint32		server_hash;	/* syscache hash values of the server ... */
	uint32		mapping_hash;	/* ... and of the user mapping that stored it */
} CfCacheScope;

/* A pending entry its fetcher fills; generation 0: none. */
typedef struct CfCacheTicket
{
	int32		index;
	uint64		generation;
} CfCacheTicket;

extern int	cloud_fdw_cache_ttl;
extern int	cloud_fdw_cache_size_kb;

extern void cf_cache_init(void);
extern void cf_cache_request_shmem(void);
extern void cf_cache_attach_shmem(void);
extern int	cf_cache_ttl_ms(const CfOptions *opts);
extern bool cf_cache_lookup(const CfCacheScope *scope, const char *key, Size key_len,
							TimestampTz since, int ttl_ms, int wait_ms, MemoryContext cxt,
							char **body, Size *body_len, CfCacheTicket *ticket);
extern void cf_cache_fill(CfCacheTicket *ticket, const char *key, Size key_len,
						  const char *body, Size body_len);
extern void cf_cache_abandon(CfCacheTicket *ticket);
extern void cf_cache_note_write(const CfCacheScope *scope);
extern void cf_cache_note_answer(const CfCacheScope *scope, const char *key, Size key_len,
								 const char *body, Size body_len);
extern void cf_cache_end_statement(void);
extern int64 cf_cache_clear(const CfCacheScope *scope);
extern Datum cloud_fdw_cache_stats(PG_FUNCTION_ARGS);

/* ----------------------------------------------------------------
 * The client (client.c): the one path of every request
 * ----------------------------------------------------------------
 */

/* Whom a scan, an update or ANALYZE talks to, and as whom. */
typedef struct CfClient
{
	const CfOptions *opts;
	CfCredentials creds;
	CfConnection *conn;
	uint64		budget;			/* whose request budget: endpoint and identity */
	CfCacheScope cache_scope;	/* the identity, and what its entries belong to */
	int			cache_ttl_ms;	/* reads are answered from the cache: 0, never */
	TimestampTz cache_since;	/* the query's start, which entries' ages count from */
	int64		cache_hits;
	int64		cache_misses;
	MemoryContext cxt;			/* it was opened in, and lives as long as */
	int			event_fd;		/* a copy of the handle's, or -1 */
	uint64		event_handle;	/* the handle it is a copy of */
	MemoryContextCallback event_fd_callback;
} CfClient;

/* One call as the engine asks for it. */
typedef struct CfRequest
{
	const char *method;
	const char *path;			/* below the endpoint, with its query */
	const char *body;			/* JSON, or NULL */
	bool		writes;			/* may change the cloud */
} CfRequest;

/* A request on its way. */
typedef struct CfExchange CfExchange;

extern bool cloud_fdw_trace;

/* The highest "concurrency" option: requests one scan or update keeps on their way. */
#define CF_MAX_CONCURRENCY 64

extern void cf_client_open(CfClient *client, UserMapping *user, const CfOptions *opts);
extern CfExchange *cf_client_start(CfClient *client, const CfRequest *req, MemoryContext cxt);
extern CfExchange *cf_client_wait_any(CfClient *client, CfExchange *const *exchanges, int n);
extern void cf_client_finish(CfClient *client, CfExchange *exchange, CfHttpResponse *resp);
extern bool cf_client_ready(CfClient *client, CfExchange *exchange);
extern void cf_client_poll(CfClient *client);
extern int	cf_client_event_fd(CfClient *client, CfExchange *const *exchanges, int n);
extern const CfNode *cf_client_answer(const CfClient *client, CfExchange *exchange,
									  const CfHttpResponse *resp, bool missing_ok,
									  CfTape *tape);
extern void cf_client_use_cache(CfClient *client);
extern bool cf_client_was_cached(const CfExchange *exchange);
extern void cf_client_remember(CfClient *client, const CfRequest *req,
							   const char *body, Size body_len);
extern Datum cloud_fdw_cache_clear(PG_FUNCTION_ARGS);
extern const CfNode *cf_call_answer(CfClient *client, const CfRequest *req, bool missing_ok,
									MemoryContext cxt, CfHttpResponse *resp);

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
 * Authentication (auth.c, huawei_sign.c): headers, no I/O
 * ----------------------------------------------------------------
 */

/* What a signer sees of a request. */
typedef struct CfAuthRequest
{
	const CfCredentials *creds;
	const CfOptions *opts;
	CfScope		scope;
	const char *method;
	const char *url;
	const char *body;
	const char *token;			/* bought by the method's login, or NULL */
} CfAuthRequest;

/* A login a method needs before it can sign (an IAM token). */
typedef struct CfLoginRequest
{
	const char *endpoint;
	const char *path;
	char	   *body;			/* holds the password: never shown */
} CfLoginRequest;

extern List *cf_auth_bearer(const CfAuthRequest *req);
extern List *cf_auth_huawei_token(const CfAuthRequest *req);
extern List *cf_auth_huawei_signed(const CfAuthRequest *req);
extern List *cf_auth_huawei_iam(const CfAuthRequest *req);
extern void cf_auth_iam_login(const CfCredentials *creds, const CfOptions *opts,
							  CfScope scope, CfLoginRequest *login);
extern char *cf_auth_iam_take(const CfHttpResponse *resp, TimestampTz *expires);
extern const char *cf_token_get(CfTokenCache *cache, CfScope scope);
extern void cf_token_keep(CfTokenCache *cache, CfScope scope, const char *token,
						  TimestampTz expires);
extern void cf_token_forget_all(CfTokenCache *cache);
extern void cf_sha256(const char *data, size_t len, uint8 *digest);
extern char *cf_huawei_authorization(const char *method, const char *url, List *headers,
									 const char *body, size_t body_len,
									 const char *access_key, const char *secret_key);
extern Datum cloud_fdw_huawei_signature(PG_FUNCTION_ARGS);

/* ----------------------------------------------------------------
 * Remote errors (error.c): the one place mapping them to SQLSTATEs
 * ----------------------------------------------------------------
 */
pg_noreturn extern void cf_report_http_error(const CfErrorEnvelope *envelope,
											 const CfHttpResponse *resp);
pg_noreturn extern void cf_report_transfer_error(int curl_code, const char *curl_message);
extern void cf_push_error_context(ErrorContextCallback *callback,
								  void (*fn) (void *), void *arg);
extern void cf_push_request_context(ErrorContextCallback *callback,
									const CfRequest *req);
extern char *cf_utf8_to_display(const char *utf8, size_t len);
extern bool cf_is_api_error(const CfErrorEnvelope *envelope, const CfHttpResponse *resp);
extern char *cf_describe_error(const CfErrorEnvelope *envelope, const CfJson *error);

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

/* Where a listing stands: the paging of its next page. */
typedef struct CfPageCursor
{
	bool		done;			/* no page left */
	int			page_size;
	int64		position;		/* offset, or page number, of the next page */
	const char *cursor_param;	/* CF_PAGE_CURSOR: NULL on the first page */
	char	   *cursor_value;
	List	   *seen;			/* cursors and pages already seen, to stop loops */
} CfPageCursor;

/* One call of an updated row: an update, or a field's action. */
typedef struct CfRowCall
{
	const CfCall *call;
	const char *body;			/* JSON */
} CfRowCall;

extern bool cf_key_is_addressable(const char *key);
extern int	cf_compare_strings(const ListCell *a, const ListCell *b);
extern void cf_build_request(const CfCall *call, const CfParamValue *values, int nvalues,
							 const CfOptions *opts, const CfPageCursor *cursor,
							 bool explain, CfRequest *req);
extern char *cf_request_text(const CfRequest *req);
extern void cf_first_page(const CfResource *resource, int page_size, CfPageCursor *cursor);
extern void cf_advance_cursor(const CfResource *resource, const CfNode *page,
							  const CfNode *items, CfPageCursor *cursor);
extern const CfNode *cf_page_items(const CfResource *resource, const CfNode *page);
extern double cf_page_total(const CfResource *resource, const CfNode *page);
extern void cf_check_partial_errors(const CfOptions *opts, const CfNode *page,
									const char *relname);
extern const CfNode *cf_answer_item(const CfCall *call, const CfNode *answer);
extern void cf_plan_row_update(const CfResource *resource, CfColumnMap *maps,
							   List *target_attrs, int natts,
							   Datum *oldvalues, bool *oldnulls,
							   Datum *newvalues, bool *newnulls,
							   MemoryContext owner, List **calls);

/* ----------------------------------------------------------------
 * URLs (url.c)
 * ----------------------------------------------------------------
 */
extern char *cf_url_authority(const char *url);
extern void cf_url_split(const char *url, char **path, char **query);
extern void cf_append_encoded(StringInfo buf, const char *bytes, size_t len);

/* ----------------------------------------------------------------
 * Conversion between JSON and column values (convert.c)
 * ----------------------------------------------------------------
 */
extern CfColumnMap *cf_column_maps(Relation rel, const CfResource *resource,
								   bool all, const Bitmapset *attrs);
extern void cf_store_item(CfColumnMap *maps, const CfNode *item,
						  const CfParamValue *fallback, int nfallback,
						  TupleTableSlot *slot);
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
	CF_SCAN_LIMIT,				/* Integer: rows the query needs at most, or 0 */
	CF_SCAN_COUNT,				/* Integer: count(*) from the API's total (1) */
	CF_SCAN_GATES				/* Integer: the last fdw_exprs are quals on fixed columns */
};

extern void cloudGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel,
								   Oid foreigntableid);
extern void cloudGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel,
								 Oid foreigntableid);
extern ForeignScan *cloudGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel,
										Oid foreigntableid, ForeignPath *best_path,
										List *tlist, List *scan_clauses, Plan *outer_plan);
extern void cloudGetForeignUpperPaths(PlannerInfo *root, UpperRelationKind stage,
									  RelOptInfo *input_rel, RelOptInfo *output_rel,
									  void *extra);
extern bool cloudIsForeignPathAsyncCapable(ForeignPath *path);

extern void cloudExplainForeignScan(ForeignScanState *node, ExplainState *es);
extern void cloudBeginForeignScan(ForeignScanState *node, int eflags);
extern TupleTableSlot *cloudIterateForeignScan(ForeignScanState *node);
extern void cloudReScanForeignScan(ForeignScanState *node);
extern void cloudEndForeignScan(ForeignScanState *node);
extern void cloudForeignAsyncRequest(AsyncRequest *areq);
extern void cloudForeignAsyncConfigureWait(AsyncRequest *areq);
extern void cloudForeignAsyncNotify(AsyncRequest *areq);

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
