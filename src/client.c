/*-------------------------------------------------------------------------
 *
 * client.c
 *		  The one path every request takes, read or write, one at a time or
 *		  many at once.
 *
 * Credentials are prepared first: a method that logs in (an IAM password)
 * buys its token through this same path, with authentication off.  Then
 * the method's headers (a signature, a token) are computed, which is no
 * I/O; the transport sends; the caller gets the answer after one replay
 * when a cached token was refused (401), and judges the status.  Above
 * this file nothing knows a header; below it, nothing knows a provider.
 *
 * A read of a client that uses the cache (a scan of a table with
 * "cache_ttl") is answered from it when it can be, and its answer is kept
 * once it parsed; every write notes what the end of the statement must
 * drop from the cache.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unistd.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "common/hashfn.h"
#include "common/sha2.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "cloud_fdw.h"

/* A cached token is renewed this long before it expires. */
#define TOKEN_RENEW_MARGIN_MS (5 * 60 * 1000)

struct CfExchange
{
	CfRequest	req;			/* the caller's, copied */
	CfHttpRequest http;
	MemoryContext cxt;			/* where the answer goes */
	CfConnection *conn;
	uint64		ticket;			/* in the connection's transport */
	bool		cached_token;	/* carried a token bought earlier */
	uint64		budget;			/* whose request budget it draws from */
	double		rate_limit;
	char	   *cache_key;		/* method, URL and body: NULL when not cached */
	Size		cache_key_len;
	CfCacheTicket cache_ticket; /* the pending entry its answer fills */
	bool		from_cache;		/* answered from the cache: no transfer */
	char	   *cached_body;
	Size		cached_len;
	MemoryContextCallback cancel_on_reset;
};

/*
 * Who calls: a SHA-256 of the provider, the authentication method and the
 * credentials, so that the secret itself is never kept.
 */
static void
credential_identity(const CfOptions *opts, const CfCredentials *creds, uint8 *identity)
{
	StringInfoData buf;
	ListCell   *lc;

	StaticAssertStmt(CF_IDENTITY_LEN == PG_SHA256_DIGEST_LENGTH, "identity is a SHA-256");
	initStringInfo(&buf);
	appendStringInfo(&buf, "%s\n%s", opts->provider->name,
					 creds->method ? creds->method->description : "");
	foreach(lc, creds->values)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		appendStringInfo(&buf, "\n%s=%s", def->defname, defGetString(def));
	}
	cf_sha256(buf.data, buf.len, identity);
	explicit_bzero(buf.data, buf.len);
	pfree(buf.data);
}

/* Whose budget requests draw from: the identity at one endpoint. */
static uint64
budget_of(const CfClient *client)
{
	uint64		budget = hash_bytes_extended(client->cache_scope.identity, CF_IDENTITY_LEN, 0);

	budget = hash_bytes_extended((const unsigned char *) client->opts->endpoint,
								 strlen(client->opts->endpoint), budget);
	return budget == 0 ? 1 : budget;
}

static uint32
resource_hash(const CfResource *resource)
{
	char	   *name = psprintf("%s/%s", resource->provider->name, resource->name);
	uint32		hash = hash_bytes((const unsigned char *) name, strlen(name));

	pfree(name);
	return hash;
}

/* Read the user mapping's credentials and find its connection. */
void
cf_client_open(CfClient *client, UserMapping *user, const CfOptions *opts)
{
	client->opts = opts;
	cf_get_credentials(user, opts, &client->creds);
	client->conn = cf_get_connection(user);
	credential_identity(opts, &client->creds, client->cache_scope.identity);
	client->cache_scope.resource = resource_hash(opts->resource);
	client->cache_scope.server_hash = GetSysCacheHashValue1(FOREIGNSERVEROID,
															ObjectIdGetDatum(opts->serverid));
	client->cache_scope.mapping_hash = GetSysCacheHashValue1(USERMAPPINGOID,
															 ObjectIdGetDatum(user->umid));
	client->budget = budget_of(client);
	client->cache_ttl_ms = 0;
	client->cache_hits = client->cache_misses = 0;
	client->cxt = CurrentMemoryContext;
	client->event_fd = -1;
}

/*
 * Let the client's reads be answered from the cache, as the table's
 * cache_ttl and cloud_fdw.cache_ttl allow, entries' ages counted from now
 * (the start of the query) for as long as the client lives.
 */
void
cf_client_use_cache(CfClient *client)
{
	client->cache_ttl_ms = cf_cache_ttl_ms(client->opts);
	client->cache_since = GetCurrentTimestamp();
}

/* Wait for a transfer and take its answer; no answer at all is an error. */
static void
take_answer(CfHttpHandle *handle, uint64 ticket, CfHttpResponse *resp)
{
	cf_http_take(handle, cf_http_wait_any(handle, &ticket, 1), resp);
	if (resp->transfer_error != 0)
		cf_report_transfer_error(resp->transfer_error, resp->transfer_message);
}

static bool
needs_login(const CfClient *client)
{
	return client->creds.method != NULL && client->creds.method->login != NULL;
}

static void
trace_request(const CfRequest *req, bool secret_body, bool from_cache)
{
	if (!cloud_fdw_trace)
		return;
	ereport(NOTICE,
			(errmsg("cloud_fdw: %s %s%s%s%s", req->method, req->path,
					req->body ? " " : "",
					req->body == NULL ? ""
					: secret_body ? "(body not shown: it holds credentials)"
					: cf_utf8_to_display(req->body, strlen(req->body)),
					from_cache ? " (from the cache)" : "")));
}

/* The transport's request for a call to url, with these headers. */
static void
prepare_http(const CfClient *client, const CfRequest *req, const char *url,
			 List *auth_headers, bool resendable, CfHttpRequest *http)
{
	const CfOptions *opts = client->opts;
	List	   *headers = list_make1("Accept: " CF_JSON_CONTENT_TYPE);

	if (req->body != NULL)
		headers = lappend(headers, "Content-Type: " CF_JSON_CONTENT_TYPE);
	memset(http, 0, sizeof(CfHttpRequest));
	http->method = req->method;
	http->url = url;
	http->headers = list_concat(headers, auth_headers);
	http->body = req->body;
	http->label = psprintf("%s %s", req->method, req->path);
	http->resendable = resendable;
	http->writes = req->writes;
	http->connect_timeout_ms = opts->connect_timeout_ms;
	http->request_timeout_ms = opts->request_timeout_ms;
	http->max_response_size = opts->max_response_size;
	http->max_retries = opts->max_retries;
	http->ca_file = opts->ca_file;
}

/*
 * Buy a token for the scope with the method's login, sent without
 * authentication and never traced with its body; a second login only buys
 * a second token, so it is resent like a read.
 */
static const char *
login(CfClient *client, CfScope scope)
{
	CfTokenCache *cache = cf_connection_tokens(client->conn);
	CfLoginRequest login;
	CfRequest	req = {.method = "POST"};
	CfHttpRequest http;
	CfHttpResponse resp;
	ErrorContextCallback errcallback;
	CfHttpHandle *handle = cf_connection_http(client->conn);
	TimestampTz expires;
	char	   *token;
	uint64		ticket;

	client->creds.method->login(&client->creds, client->opts, scope, &login);
	req.path = login.path;
	req.body = login.body;
	cf_push_request_context(&errcallback, &req);
	trace_request(&req, true, false);
	prepare_http(client, &req, psprintf("%s%s", login.endpoint, login.path), NIL, true, &http);
	ticket = cf_http_start(handle, &http, CurrentMemoryContext);
	take_answer(handle, ticket, &resp);
	if (resp.status < 200 || resp.status > 299)
		cf_report_http_error(client->opts->provider->envelope, &resp);
	token = client->creds.method->take_login(&resp, &expires);
	error_context_stack = errcallback.previous;
	cf_token_keep(cache, scope, token, expires);
	return cf_token_get(cache, scope);
}

/* A token of the scope with a while to live: cached, else bought now. */
static const char *
valid_token(CfClient *client, CfScope scope, bool *cached)
{
	CfTokenCache *cache = cf_connection_tokens(client->conn);
	const char *token = cf_token_get(cache, scope);

	*cached = token != NULL &&
		GetCurrentTimestamp() < TimestampTzPlusMilliseconds(cache->expires[scope],
															 -TOKEN_RENEW_MARGIN_MS);
	return *cached ? token : login(client, scope);
}

/* The transport's pacer: the request budget of the exchange's identity. */
static TimestampTz
pace_exchange(void *arg, long retry_after_ms)
{
	CfExchange *x = (CfExchange *) arg;

	return cf_budget_next_start(x->budget, x->rate_limit, retry_after_ms);
}

/* Credentials, then headers, then the transfer, paced by the request budget. */
static void
send_exchange(CfClient *client, CfExchange *x)
{
	const CfOptions *opts = client->opts;
	CfHttpHandle *handle = cf_connection_http(client->conn);
	CfAuthRequest auth = {
		.creds = &client->creds,
		.opts = opts,
		.scope = opts->resource->scope,
		.method = x->req.method,
		.body = x->req.body,
	};
	MemoryContext oldcxt = MemoryContextSwitchTo(x->cxt);
	List	   *auth_headers = NIL;

	x->cached_token = false;
	if (needs_login(client))
		auth.token = valid_token(client, auth.scope, &x->cached_token);
	auth.url = psprintf("%s%s", opts->endpoint, x->req.path);
	if (client->creds.method != NULL)
		auth_headers = client->creds.method->sign(&auth);
	prepare_http(client, &x->req, auth.url, auth_headers, !x->req.writes, &x->http);
	x->http.pace = pace_exchange;
	x->http.pace_arg = x;
	trace_request(&x->req, false, false);
	x->ticket = cf_http_start(handle, &x->http, x->cxt);
	if (x->req.writes)
		cf_connection_mark_write(client->conn);
	MemoryContextSwitchTo(oldcxt);
}

/*
 * An exchange whose memory goes away (its scan ended early, an error)
 * abandons its transfer, which would otherwise write into freed memory,
 * and the cache entry others may be waiting for.
 */
static void
cancel_exchange(void *arg)
{
	CfExchange *x = (CfExchange *) arg;
	CfHttpHandle *handle = cf_connection_open_http(x->conn);

	if (handle != NULL && x->ticket != 0)
		cf_http_cancel(handle, x->ticket);
	cf_cache_abandon(&x->cache_ticket);
}

/* The cache key of a request: method, URL and body; no credential. */
static void
set_cache_key(const CfClient *client, CfExchange *x)
{
	StringInfoData key;

	initStringInfo(&key);
	appendStringInfo(&key, "%s %s%s\n%s", x->req.method, client->opts->endpoint,
					 x->req.path, x->req.body ? x->req.body : "");
	x->cache_key = key.data;
	x->cache_key_len = key.len;
}

/* Answer a read from the cache if it can be; else it will fill the cache. */
static bool
answer_from_cache(CfClient *client, CfExchange *x)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(x->cxt);

	set_cache_key(client, x);
	MemoryContextSwitchTo(oldcxt);
	x->from_cache = cf_cache_lookup(&client->cache_scope, x->cache_key, x->cache_key_len,
									client->cache_since, client->cache_ttl_ms,
									client->opts->request_timeout_ms, x->cxt,
									&x->cached_body, &x->cached_len, &x->cache_ticket);
	if (x->from_cache)
	{
		client->cache_hits++;
		trace_request(&x->req, false, true);
	}
	else
		client->cache_misses++;
	return x->from_cache;
}

/* Start a request; its answer will be kept in cxt. */
CfExchange *
cf_client_start(CfClient *client, const CfRequest *req, MemoryContext cxt)
{
	CfExchange *x = MemoryContextAllocZero(cxt, sizeof(CfExchange));

	x->req = *req;
	x->cxt = cxt;
	x->conn = client->conn;
	x->budget = client->budget;
	x->rate_limit = client->opts->rate_limit;
	x->cancel_on_reset.func = cancel_exchange;
	x->cancel_on_reset.arg = x;
	MemoryContextRegisterResetCallback(cxt, &x->cancel_on_reset);
	if (req->writes)
		cf_cache_note_write(&client->cache_scope);
	else if (client->cache_ttl_ms > 0 && answer_from_cache(client, x))
		return x;
	send_exchange(client, x);
	return x;
}

/* Whether the exchange's answer came from the cache, not from the API. */
bool
cf_client_was_cached(const CfExchange *x)
{
	return x->from_cache;
}

/* The tickets of exchanges on their way (those not answered from the cache). */
static uint64 *
tickets_of(CfExchange *const *exchanges, int n, int *ntickets)
{
	uint64	   *tickets = palloc(sizeof(uint64) * n);

	*ntickets = 0;
	for (int i = 0; i < n; i++)
		if (!exchanges[i]->from_cache)
			tickets[(*ntickets)++] = exchanges[i]->ticket;
	return tickets;
}

/* Wait until one of the exchanges has its answer; that one. */
CfExchange *
cf_client_wait_any(CfClient *client, CfExchange *const *exchanges, int n)
{
	uint64	   *tickets;
	int			ntickets;
	uint64		ticket;

	for (int i = 0; i < n; i++)
		if (exchanges[i]->from_cache)
			return exchanges[i];
	tickets = tickets_of(exchanges, n, &ntickets);
	ticket = cf_http_wait_any(cf_connection_http(client->conn), tickets, ntickets);
	pfree(tickets);
	for (int i = 0; i < n; i++)
		if (exchanges[i]->ticket == ticket)
			return exchanges[i];
	pg_unreachable();
}

/* Whether an exchange has its answer (or lost its transfer): no waiting. */
bool
cf_client_ready(CfClient *client, CfExchange *x)
{
	return x->from_cache || cf_http_any_done(cf_connection_http(client->conn), &x->ticket, 1);
}

/* Let the transfers make progress, without waiting. */
void
cf_client_poll(CfClient *client)
{
	cf_http_poll(cf_connection_http(client->conn));
}

/* The client's copy of the event descriptor goes with the memory it was opened in. */
static void
close_event_fd(void *arg)
{
	CfClient   *client = (CfClient *) arg;

	if (client->event_fd >= 0)
		close(client->event_fd);
	client->event_fd = -1;
}

/*
 * A descriptor that becomes readable when one of the exchanges may have
 * progressed, for a wait outside of ours (an asynchronous Append).  Each
 * client has a copy of its handle's descriptor, since two scans on one
 * connection wait in the same set, which takes a descriptor only once.
 */
int
cf_client_event_fd(CfClient *client, CfExchange *const *exchanges, int n)
{
	CfHttpHandle *handle = cf_connection_http(client->conn);
	int			ntickets;
	uint64	   *tickets = tickets_of(exchanges, n, &ntickets);
	int			fd;

	/* an answer from the cache is ready: nobody waits for it */
	Assert(ntickets == n);
	fd = cf_http_event_fd(handle, tickets, ntickets);
	pfree(tickets);
	if (client->event_fd >= 0 && client->event_handle != cf_http_id(handle))
		close_event_fd(client);
	if (client->event_fd < 0)
	{
		if (!client->event_fd_callback.func)
		{
			client->event_fd_callback.func = close_event_fd;
			client->event_fd_callback.arg = client;
			MemoryContextRegisterResetCallback(client->cxt, &client->event_fd_callback);
		}
		client->event_fd = dup(fd);
		if (client->event_fd < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
					 errmsg("could not duplicate a descriptor: %m")));
		client->event_handle = cf_http_id(handle);
	}
	return client->event_fd;
}

/*
 * The answer of an exchange, waited for.  A cached token the API refuses (401)
 * was refused before anything was done, so it is replaced and the request
 * sent again, once, whatever the request.  The status is the caller's.
 */
void
cf_client_finish(CfClient *client, CfExchange *x, CfHttpResponse *resp)
{
	CfHttpHandle *handle;

	if (x->from_cache)
	{
		memset(resp, 0, sizeof(CfHttpResponse));
		resp->status = 200;
		resp->body = x->cached_body;
		resp->body_len = x->cached_len;
		return;
	}
	handle = cf_connection_http(client->conn);
	take_answer(handle, x->ticket, resp);

	/*
	 * A read whose transfer was aborted by an error elsewhere on the
	 * connection (a partition skipped, a subtransaction rolled back) is
	 * simply sent again; a write's outcome is unknown, which is an error.
	 */
	while (resp->abandoned && !x->req.writes)
	{
		send_exchange(client, x);
		take_answer(handle, x->ticket, resp);
	}
	if (resp->abandoned)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("cloud API request was abandoned before its answer"),
				 errdetail("It may or may not have been applied.")));
	if (resp->status == 401 && x->cached_token)
	{
		cf_token_keep(cf_connection_tokens(client->conn), client->opts->resource->scope,
					  NULL, 0);
		send_exchange(client, x);
		take_answer(handle, x->ticket, resp);
	}
}

/*
 * Judge an answer: an error status is reported; with missing_ok, the API's
 * own 404 means "no such item" (NULL), while a bare 404 (a wrong endpoint)
 * is an error.  The empty body of a write is NULL too (204); anything
 * else is parsed into tape, so that an empty answer to a read is an error.
 * Only an answer that parsed is kept in the cache: errors never are.
 */
const CfNode *
cf_client_answer(const CfClient *client, CfExchange *x, const CfHttpResponse *resp,
				 bool missing_ok, CfTape *tape)
{
	const CfErrorEnvelope *envelope = client->opts->provider->envelope;
	const CfNode *answer;

	if (resp->status < 200 || resp->status > 299)
	{
		cf_cache_abandon(&x->cache_ticket);
		if (missing_ok && resp->status == 404 && cf_is_api_error(envelope, resp))
			return NULL;
		cf_report_http_error(envelope, resp);
	}
	if (resp->body_len == 0 && x->req.writes)
		return NULL;
	/* an answer from the cache passed the UTF-8 check when it was stored */
	answer = cf_tape_parse(tape, resp->body, resp->body_len, x->from_cache);
	cf_cache_fill(&x->cache_ticket, x->cache_key, x->cache_key_len,
				  resp->body, resp->body_len);
	return answer;
}

/* Send a request, wait for it and judge its answer, as cf_client_answer does. */
const CfNode *
cf_call_answer(CfClient *client, const CfRequest *req, bool missing_ok, MemoryContext cxt,
			   CfHttpResponse *resp)
{
	CfExchange *x = cf_client_start(client, req, cxt);
	MemoryContext oldcxt = MemoryContextSwitchTo(cxt);
	const CfNode *answer;

	cf_client_finish(client, x, resp);
	answer = cf_client_answer(client, x, resp, missing_ok, cf_tape_create(cxt));
	MemoryContextSwitchTo(oldcxt);
	return answer;
}

/*
 * Remember body as the answer to the read req, for the cache to keep when
 * the statement's writes end (the item a write answered, as its get).
 */
void
cf_client_remember(CfClient *client, const CfRequest *req, const char *body, Size body_len)
{
	CfExchange	x = {.req = *req};

	set_cache_key(client, &x);
	cf_cache_note_answer(&client->cache_scope, x.cache_key, x.cache_key_len, body, body_len);
	pfree(x.cache_key);
}

/* Whether a server is one of cloud_fdw's: its wrapper's handler is ours. */
static bool
is_our_server(ForeignServer *server)
{
	ForeignDataWrapper *fdw = GetForeignDataWrapper(server->fdwid);

	return OidIsValid(fdw->fdwhandler) &&
		GetFdwRoutine(fdw->fdwhandler)->BeginForeignScan == cloudBeginForeignScan;
}

/*
 * The identities of the credentials a role's user mappings (its own, or
 * PUBLIC) give it on cloud_fdw's servers, as cache scopes.
 */
static List *
user_identities(Oid userid)
{
	Relation	servers = table_open(ForeignServerRelationId, AccessShareLock);
	TableScanDesc scan = table_beginscan_catalog(servers, 0, NULL);
	List	   *scopes = NIL;
	HeapTuple	tuple;

	while ((tuple = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Oid			serverid = ((Form_pg_foreign_server) GETSTRUCT(tuple))->oid;
		ForeignServer *server = GetForeignServer(serverid);
		CfOptions	opts;
		CfCredentials creds;
		CfCacheScope *scope;

		if (!is_our_server(server) ||
			(!SearchSysCacheExists2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(userid),
									ObjectIdGetDatum(serverid)) &&
			 !SearchSysCacheExists2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(InvalidOid),
									ObjectIdGetDatum(serverid))))
			continue;
		cf_get_server_options(server, &opts);
		cf_get_credentials(GetUserMapping(userid, serverid), &opts, &creds);
		scope = palloc0(sizeof(CfCacheScope));
		credential_identity(&opts, &creds, scope->identity);
		scopes = lappend(scopes, scope);
	}
	table_endscan(scan);
	table_close(servers, AccessShareLock);
	return scopes;
}

PG_FUNCTION_INFO_V1(cloud_fdw_cache_clear);

/*
 * Empty the cache: all of it for a superuser; for anyone else, the answers
 * of the credentials their user mappings give them on cloud_fdw's servers.
 * Returns how many answers were dropped.
 */
Datum
cloud_fdw_cache_clear(PG_FUNCTION_ARGS)
{
	ListCell   *lc;
	int64		dropped = 0;

	if (superuser())
		PG_RETURN_INT64(cf_cache_clear(NULL));
	foreach(lc, user_identities(GetUserId()))
		dropped += cf_cache_clear((CfCacheScope *) lfirst(lc));
	PG_RETURN_INT64(dropped);
}
