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

#include "foreign/foreign.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/execnodes.h"
#include "utils/relcache.h"

#include "cf_json.h"

/* ----------------------------------------------------------------
 * The registry (registry.c): cloud resources described as data
 * ----------------------------------------------------------------
 */

/* How requests prove who is calling. */
typedef enum CfAuthStyle
{
	CF_AUTH_BEARER				/* Authorization: Bearer <token> */
} CfAuthStyle;

/* How a list endpoint hands out its pages. */
typedef enum CfPageStyle
{
	CF_PAGE_CURSOR				/* has_more + opaque next page or last id */
} CfPageStyle;

typedef struct CfPagination
{
	CfPageStyle style;
	const char *items_path;		/* the array of items in a list response */
	const char *limit_param;	/* query parameter for the page size */
	int			max_page_size;
	const char *has_more_path;	/* boolean: another page follows */
	const char *next_page_path; /* opaque cursor, preferred when present */
	const char *next_page_param;
	const char *last_id_path;	/* fallback cursor: the last item's id */
	const char *after_id_param;
} CfPagination;

typedef struct CfProvider
{
	const char *name;			/* value of the server option "provider" */
	const char *default_endpoint;
	CfAuthStyle auth;
} CfProvider;

/* Column flags */
#define CF_COL_KEY			0x01	/* identifies an item: get by id, row identity */
#define CF_COL_UPDATABLE	0x02	/* the update call accepts this field */

typedef struct CfColumn
{
	const char *name;			/* column name in IMPORT FOREIGN SCHEMA */
	const char *path;			/* dotted JSON path inside an item */
	const char *type;			/* SQL type in IMPORT FOREIGN SCHEMA */
	int			flags;
} CfColumn;

/* A field the API wants in every update body that sends "when_path". */
typedef struct CfRequiredField
{
	const char *when_path;
	const char *path;
	const char *default_value;	/* used when the row does not carry it */
} CfRequiredField;

typedef struct CfResource
{
	const char *name;			/* value of the table option "resource" */
	const CfProvider *provider;
	const char *list_path;
	const char *get_path;		/* {placeholders} name key columns */
	const char *get_item_path;	/* item inside a get response; NULL: the body */
	const char *update_method;	/* NULL: the resource cannot be updated */
	const char *update_path;
	const char *update_item_path;
	const CfPagination *pagination;
	const CfColumn *columns;
	int			ncolumns;
	const CfRequiredField *required_fields;
	int			nrequired_fields;
	double		estimated_items;	/* planner's guess for a full listing */
} CfResource;

extern const CfProvider *cf_find_provider(const char *name);
extern const CfResource *cf_find_resource(const CfProvider *provider, const char *name);
extern bool cf_resource_exists(const char *name);
extern char *cf_provider_names(void);
extern char *cf_resource_names(const CfProvider *provider);
extern const CfColumn *cf_key_column(const CfResource *resource);
extern const CfColumn *cf_governing_column(const CfResource *resource, const char *path);

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
	int			connect_timeout_ms;
	int			request_timeout_ms;
	int			page_size;
	size_t		max_response_size;
} CfOptions;

/* Credentials of one user mapping; never logged, never shown. */
typedef struct CfCredentials
{
	char	   *token;
} CfCredentials;

extern Datum cloud_fdw_validator(PG_FUNCTION_ARGS);
extern void cf_get_options(Oid foreigntableid, CfOptions *opts);
extern void cf_get_credentials(UserMapping *user, const CfOptions *opts,
							   CfCredentials *creds);
extern char *cf_column_path(Oid relid, AttrNumber attnum);
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
} CfHttpRequest;

typedef struct CfHttpResponse
{
	long		status;
	char	   *body;			/* NUL-terminated, palloc'd */
	size_t		body_len;
	char	   *request_id;		/* x-request-id header, or NULL */
} CfHttpResponse;

extern bool cloud_fdw_trace;

extern void cf_http_init(void);
extern void *cf_http_open(void);
extern void cf_http_close(void *handle);
extern void cf_send_request(CfConnection *conn, const CfHttpRequest *req,
							CfHttpResponse *resp);

/* connection.c's bookkeeping around a request (used by http.c) */
extern void *cf_connection_handle(CfConnection *conn);
extern void cf_connection_count(CfConnection *conn, long new_connects);

/* ----------------------------------------------------------------
 * Remote errors (error.c): the one place mapping them to SQLSTATEs
 * ----------------------------------------------------------------
 */
extern void cf_report_http_error(const CfHttpRequest *req,
								 const CfHttpResponse *resp) pg_attribute_noreturn();
extern void cf_report_transfer_error(const CfHttpRequest *req, int curl_code,
									 const char *curl_message) pg_attribute_noreturn();
extern void cf_push_request_context(ErrorContextCallback *callback,
									const CfHttpRequest *req);

/* ----------------------------------------------------------------
 * Requests (request.c): paths, pages and update bodies
 * ----------------------------------------------------------------
 */
typedef struct CfColumnMap CfColumnMap;

typedef struct CfPageCursor
{
	char	   *next_query;		/* query for the next page; NULL when done */
	List	   *seen;			/* cursors already followed, to stop loops */
} CfPageCursor;

extern bool cf_key_is_addressable(const char *key);
extern char *cf_item_path(const char *template, const char *key_value);
extern char *cf_first_page_query(const CfResource *resource, int page_size);
extern void cf_advance_cursor(const CfResource *resource, int page_size,
							  const CfJson *page, int nitems,
							  CfPageCursor *cursor);
extern CfJson *cf_page_items(const CfResource *resource, const CfJson *page);
extern CfJson *cf_build_update_body(const CfResource *resource, CfColumnMap *maps,
									List *target_attrs, int natts,
									Datum *oldvalues, bool *oldnulls,
									Datum *newvalues, bool *newnulls,
									MemoryContext owner);

/* ----------------------------------------------------------------
 * Conversion between JSON and column values (convert.c)
 * ----------------------------------------------------------------
 */
extern CfColumnMap *cf_column_maps(Relation rel, const CfResource *resource,
								   Bitmapset *attrs);
extern void cf_store_item(CfColumnMap *maps, CfJson *item, TupleTableSlot *slot);
extern CfJson *cf_datum_to_json(CfColumnMap *maps, AttrNumber attnum,
								Datum value, bool isnull, MemoryContext owner);
extern bool cf_datums_equal(CfColumnMap *maps, AttrNumber attnum, Datum a, Datum b);
extern const char *cf_column_map_path(CfColumnMap *maps, AttrNumber attnum);
extern bool cf_column_map_is_json(CfColumnMap *maps, AttrNumber attnum);

#endif							/* CLOUD_FDW_H */
