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

#include "utils/memutils.h"

#include "cloud_fdw.h"

/* A cached token is renewed this long before it expires. */
#define TOKEN_RENEW_MARGIN_MS (5 * 60 * 1000)

struct CfExchange
{
	CfRequest	req;			/* the caller's, copied */
	CfHttpRequest http;
	MemoryContext cxt;			/* where the answer goes */
	int			slot;			/* in the connection's transport */
	bool		cached_token;	/* carried a token bought earlier */
};

/* Read the user mapping's credentials and find its connection. */
void
cf_client_open(CfClient *client, UserMapping *user, const CfOptions *opts)
{
	client->opts = opts;
	cf_get_credentials(user, opts, &client->creds);
	client->conn = cf_get_connection(user);
}

/* Wait for a transfer and take its answer; no answer at all is an error. */
static void
take_answer(CfHttpHandle *handle, int slot, CfHttpResponse *resp)
{
	cf_http_take(handle, cf_http_wait_any(handle, &slot, 1), resp);
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
	int			slot;

	client->creds.method->login(&client->creds, client->opts, scope, &login);
	req.path = login.path;
	req.body = login.body;
	cf_push_request_context(&errcallback, &req);
	trace_request(&req, true);
	prepare_http(client, &req, psprintf("%s%s", login.endpoint, login.path), NIL, true, &http);
	slot = cf_http_start(handle, &http, CurrentMemoryContext);
	take_answer(handle, slot, &resp);
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

/* Credentials, then headers, then the transfer; the rate limit first of all. */
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

	if (opts->rate_limit > 0)
		cf_http_pause_until(handle, cf_connection_next_start(client->conn, opts->rate_limit));
	x->cached_token = false;
	if (needs_login(client))
		auth.token = valid_token(client, auth.scope, &x->cached_token);
	auth.url = psprintf("%s%s", opts->endpoint, x->req.path);
	if (client->creds.method != NULL)
		auth_headers = client->creds.method->sign(&auth);
	prepare_http(client, &x->req, auth.url, auth_headers, !x->req.writes, &x->http);
	trace_request(&x->req, false);
	x->slot = cf_http_start(handle, &x->http, x->cxt);
	if (x->req.writes)
		cf_connection_mark_write(client->conn);
	MemoryContextSwitchTo(oldcxt);
}

/* Start a request; its answer will be kept in cxt. */
CfExchange *
cf_client_start(CfClient *client, const CfRequest *req, MemoryContext cxt)
{
	CfExchange *x = MemoryContextAllocZero(cxt, sizeof(CfExchange));

	x->req = *req;
	x->cxt = cxt;
	send_exchange(client, x);
	return x;
}

/* Wait until one of the exchanges has its answer; that one. */
CfExchange *
cf_client_wait_any(CfClient *client, CfExchange *const *exchanges, int n)
{
	int		   *slots = palloc(sizeof(int) * n);
	int			slot;

	for (int i = 0; i < n; i++)
		slots[i] = exchanges[i]->slot;
	slot = cf_http_wait_any(cf_connection_http(client->conn), slots, n);
	pfree(slots);
	for (int i = 0; i < n; i++)
		if (exchanges[i]->slot == slot)
			return exchanges[i];
	pg_unreachable();
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

	take_answer(handle, x->slot, resp);
	if (resp->status == 401 && x->cached_token)
	{
		cf_token_keep(cf_connection_tokens(client->conn), client->opts->resource->scope,
					  NULL, 0);
		send_exchange(client, x);
		take_answer(handle, x->slot, resp);
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
