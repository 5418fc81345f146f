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
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unistd.h>

#include "commands/defrem.h"
#include "common/hashfn.h"
#include "utils/memutils.h"

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
	uint64		identity;		/* whose request budget it draws from */
	double		rate_limit;
	MemoryContextCallback cancel_on_reset;
};

/*
 * Whose budget requests draw from: a hash of the endpoint and the
 * credentials, never the credentials themselves.
 */
static uint64
credential_identity(const CfClient *client)
{
	StringInfoData buf;
	ListCell   *lc;
	uint64		identity;

	initStringInfo(&buf);
	appendStringInfo(&buf, "%s\n%s\n%s", client->opts->provider->name,
					 client->opts->endpoint,
					 client->creds.method ? client->creds.method->description : "");
	foreach(lc, client->creds.values)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		appendStringInfo(&buf, "\n%s=%s", def->defname, defGetString(def));
	}
	identity = hash_bytes_extended((const unsigned char *) buf.data, buf.len, 0);
	explicit_bzero(buf.data, buf.len);
	pfree(buf.data);
	return identity == 0 ? 1 : identity;
}

/* Read the user mapping's credentials and find its connection. */
void
cf_client_open(CfClient *client, UserMapping *user, const CfOptions *opts)
{
	client->opts = opts;
	cf_get_credentials(user, opts, &client->creds);
	client->conn = cf_get_connection(user);
	client->identity = credential_identity(client);
	client->cxt = CurrentMemoryContext;
	client->event_fd = -1;
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
trace_request(const CfRequest *req, bool secret_body)
{
	if (!cloud_fdw_trace)
		return;
	ereport(NOTICE,
			(errmsg("cloud_fdw: %s %s%s%s", req->method, req->path,
					req->body ? " " : "",
					req->body == NULL ? ""
					: secret_body ? "(body not shown: it holds credentials)"
					: cf_utf8_to_display(req->body, strlen(req->body)))));
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
	trace_request(&req, true);
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

	return cf_budget_next_start(x->identity, x->rate_limit, retry_after_ms);
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
	trace_request(&x->req, false);
	x->ticket = cf_http_start(handle, &x->http, x->cxt);
	if (x->req.writes)
		cf_connection_mark_write(client->conn);
	MemoryContextSwitchTo(oldcxt);
}

/*
 * An exchange whose memory goes away (its scan ended early, an error)
 * abandons its transfer, which would otherwise write into freed memory.
 */
static void
cancel_exchange(void *arg)
{
	CfExchange *x = (CfExchange *) arg;
	CfHttpHandle *handle = cf_connection_open_http(x->conn);

	if (handle != NULL)
		cf_http_cancel(handle, x->ticket);
}

/* Start a request; its answer will be kept in cxt. */
CfExchange *
cf_client_start(CfClient *client, const CfRequest *req, MemoryContext cxt)
{
	CfExchange *x = MemoryContextAllocZero(cxt, sizeof(CfExchange));

	x->req = *req;
	x->cxt = cxt;
	x->conn = client->conn;
	x->identity = client->identity;
	x->rate_limit = client->opts->rate_limit;
	send_exchange(client, x);
	x->cancel_on_reset.func = cancel_exchange;
	x->cancel_on_reset.arg = x;
	MemoryContextRegisterResetCallback(cxt, &x->cancel_on_reset);
	return x;
}

static uint64 *
tickets_of(CfExchange *const *exchanges, int n)
{
	uint64	   *tickets = palloc(sizeof(uint64) * n);

	for (int i = 0; i < n; i++)
		tickets[i] = exchanges[i]->ticket;
	return tickets;
}

/* Wait until one of the exchanges has its answer; that one. */
CfExchange *
cf_client_wait_any(CfClient *client, CfExchange *const *exchanges, int n)
{
	uint64	   *tickets = tickets_of(exchanges, n);
	uint64		ticket = cf_http_wait_any(cf_connection_http(client->conn), tickets, n);

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
	return cf_http_any_done(cf_connection_http(client->conn), &x->ticket, 1);
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
	uint64	   *tickets = tickets_of(exchanges, n);
	int			fd = cf_http_event_fd(handle, tickets, n);

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
	CfHttpHandle *handle = cf_connection_http(client->conn);

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
 * else is parsed in cxt, so that an empty answer to a read is an error.
 */
CfJson *
cf_client_answer(const CfClient *client, const CfRequest *req, const CfHttpResponse *resp,
				 bool missing_ok, MemoryContext cxt)
{
	const CfErrorEnvelope *envelope = client->opts->provider->envelope;

	if (missing_ok && resp->status == 404 && cf_is_api_error(envelope, resp))
		return NULL;
	if (resp->status < 200 || resp->status > 299)
		cf_report_http_error(envelope, resp);
	if (resp->body_len == 0 && req->writes)
		return NULL;
	return cfj_parse(resp->body, resp->body_len, cxt);
}

/* Send a request, wait for it and judge its answer, as cf_client_answer does. */
CfJson *
cf_call_json(CfClient *client, const CfRequest *req, bool missing_ok, MemoryContext cxt,
			 CfHttpResponse *resp)
{
	CfExchange *x = cf_client_start(client, req, cxt);
	MemoryContext oldcxt = MemoryContextSwitchTo(cxt);
	CfJson	   *answer;

	cf_client_finish(client, x, resp);
	answer = cf_client_answer(client, req, resp, missing_ok, cxt);
	MemoryContextSwitchTo(oldcxt);
	return answer;
}
