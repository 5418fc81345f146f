/*-------------------------------------------------------------------------
 *
 * http.c
 *		  HTTP requests with libcurl, inside a backend.
 *
 * Transfers run on a curl multi handle so that control comes back to us at
 * least every CF_POLL_INTERVAL_MS: there we check for interrupts, so that
 * pg_cancel_backend, statement_timeout and termination work even while a
 * server is silent.  Curl never sees a longjmp: interrupts are serviced
 * between curl calls, and a PG_FINALLY detaches the transfer on any error.
 * Response bodies are buffered in PostgreSQL memory, so they are freed with
 * the caller's memory context on every path.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>

#include "miscadmin.h"
#include "utils/memutils.h"

#include "cloud_fdw.h"

#define CF_POLL_INTERVAL_MS 50
#define CF_USER_AGENT "cloud_fdw/" CLOUD_FDW_VERSION
#define CF_REQUEST_ID_MAX 128

typedef struct CfHandle
{
	CURLM	   *multi;			/* owns the keep-alive connection pool */
	CURL	   *easy;
} CfHandle;

/* What the write and header callbacks fill in during one transfer. */
typedef struct CfTransfer
{
	MemoryContext cxt;
	char	   *body;
	size_t		len;
	size_t		capacity;
	size_t		limit;
	bool		too_large;
	bool		out_of_memory;
	char		request_id[CF_REQUEST_ID_MAX];
	char	   *subject_token;	/* IAM's X-Subject-Token */
} CfTransfer;

bool		cloud_fdw_trace = false;

void
cf_http_init(void)
{
	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not initialize libcurl")));
}

void *
cf_http_open(void)
{
	CfHandle   *handle = MemoryContextAllocZero(TopMemoryContext, sizeof(CfHandle));

	handle->multi = curl_multi_init();
	handle->easy = curl_easy_init();
	if (handle->multi == NULL || handle->easy == NULL)
	{
		cf_http_close(handle);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create a libcurl handle")));
	}
	return handle;
}

void
cf_http_close(void *h)
{
	CfHandle   *handle = (CfHandle *) h;

	if (handle->easy)
		curl_easy_cleanup(handle->easy);
	if (handle->multi)
		curl_multi_cleanup(handle->multi);
	pfree(handle);
}

/*
 * Curl callbacks must not ereport (a longjmp would leave curl inconsistent),
 * so they allocate without raising and report trouble through flags.
 */
static size_t
collect_body(char *data, size_t size, size_t nmemb, void *arg)
{
	CfTransfer *t = (CfTransfer *) arg;
	size_t		n = size * nmemb;

	if (t->len + n > t->limit)
	{
		t->too_large = true;
		return 0;
	}
	if (t->len + n + 1 > t->capacity)
	{
		size_t		capacity = Max(t->capacity * 2, 8192);
		char	   *grown;

		while (capacity < t->len + n + 1)
			capacity *= 2;
		capacity = Min(capacity, t->limit + 1);
		grown = MemoryContextAllocExtended(t->cxt, capacity, MCXT_ALLOC_NO_OOM);
		if (grown == NULL)
		{
			t->out_of_memory = true;
			return 0;
		}
		if (t->body != NULL)
		{
			memcpy(grown, t->body, t->len);
			pfree(t->body);
		}
		t->body = grown;
		t->capacity = capacity;
	}
	memcpy(t->body + t->len, data, n);
	t->len += n;
	return n;
}

/* The value of header line "name: value" if it is the named header, or NULL. */
static const char *
header_value(const char *line, size_t n, const char *name, size_t *len)
{
	size_t		namelen = strlen(name);
	const char *value;

	if (n <= namelen || pg_strncasecmp(line, name, namelen) != 0 || line[namelen] != ':')
		return NULL;
	value = line + namelen + 1;
	*len = n - namelen - 1;
	while (*len > 0 && (*value == ' ' || *value == '\t'))
		value++, (*len)--;
	while (*len > 0 && (value[*len - 1] == '\r' || value[*len - 1] == '\n' ||
						value[*len - 1] == ' '))
		(*len)--;
	return value;
}

static size_t
collect_header(char *line, size_t size, size_t nitems, void *arg)
{
	CfTransfer *t = (CfTransfer *) arg;
	size_t		n = size * nitems;
	const char *value;
	size_t		len;

	if ((value = header_value(line, n, "x-request-id", &len)) != NULL)
	{
		len = Min(len, CF_REQUEST_ID_MAX - 1);
		memcpy(t->request_id, value, len);
		t->request_id[len] = '\0';
	}
	else if ((value = header_value(line, n, "x-subject-token", &len)) != NULL)
	{
		t->subject_token = MemoryContextAllocExtended(t->cxt, len + 1, MCXT_ALLOC_NO_OOM);
		if (t->subject_token == NULL)
		{
			t->out_of_memory = true;
			return 0;
		}
		memcpy(t->subject_token, value, len);
		t->subject_token[len] = '\0';
	}
	return n;
}

/* A header line "name: value"; values come from options, so refuse CR/LF. */
static struct curl_slist *
add_header(struct curl_slist *headers, const char *name, const char *value)
{
	struct curl_slist *appended;
	char	   *line;

	if (strpbrk(value, "\r\n") != NULL)
	{
		curl_slist_free_all(headers);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("value for HTTP header \"%s\" contains a line break", name)));
	}
	line = psprintf("%s: %s", name, value);
	appended = curl_slist_append(headers, line);
	pfree(line);
	if (appended == NULL)
	{
		curl_slist_free_all(headers);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while building HTTP headers")));
	}
	return appended;
}

static struct curl_slist *
build_headers(CfConnection *conn, const CfHttpRequest *req, const char *url,
			  bool *cached_token)
{
	struct curl_slist *headers = NULL;
	List	   *auth = cf_auth_headers(conn, req, url, cached_token);
	ListCell   *lc;

	headers = add_header(headers, "Accept", "application/json");
	if (req->body != NULL)
		headers = add_header(headers, "Content-Type", CF_JSON_CONTENT_TYPE);
	/* a body is small: waiting for "100 Continue" would cost a round trip */
	headers = add_header(headers, "Expect", "");
	foreach(lc, auth)
	{
		const char *line = (const char *) lfirst(lc);
		const char *colon = strchr(line, ':');
		char	   *name = pnstrdup(line, colon - line);

		/* the signer signed exactly this Content-Type: do not send two */
		if (pg_strcasecmp(name, "Content-Type") != 0)
			headers = add_header(headers, name, colon + 2);
	}
	return headers;
}

static void
set_transfer_options(CURL *easy, const CfHttpRequest *req, const char *url,
					 struct curl_slist *headers, CfTransfer *transfer,
					 char *errbuf)
{
	curl_easy_reset(easy);		/* keeps the connection pool */
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	/* ids are percent-encoded already; "/../" must reach the server as is */
	curl_easy_setopt(easy, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long) req->opts->connect_timeout_ms);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long) req->opts->request_timeout_ms);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(easy, CURLOPT_USERAGENT, CF_USER_AGENT);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, collect_body);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, transfer);
	curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, collect_header);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, transfer);
	if (strcmp(req->method, "GET") == 0)
		curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
	else
	{
		curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, req->method);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
						 (curl_off_t) (req->body ? strlen(req->body) : 0));
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, req->body ? req->body : "");
	}
}

/* Drive the transfer to its end, servicing interrupts in between. */
static CURLcode
run_transfer(CfHandle *handle)
{
	int			running = 1;
	CURLMsg    *msg;
	int			queued;

	for (;;)
	{
		CURLMcode	mc = curl_multi_perform(handle->multi, &running);

		if (mc == CURLM_OK && running > 0)
			mc = curl_multi_poll(handle->multi, NULL, 0, CF_POLL_INTERVAL_MS, NULL);
		if (mc != CURLM_OK)
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("could not run HTTP transfer: %s", curl_multi_strerror(mc))));
		if (running == 0)
			break;
		CHECK_FOR_INTERRUPTS();
	}

	while ((msg = curl_multi_info_read(handle->multi, &queued)) != NULL)
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == handle->easy)
			return msg->data.result;
	return CURLE_RECV_ERROR;
}

/* One transfer: headers built, request sent, the whole response read. */
static void
perform(CfConnection *conn, const CfHttpRequest *req, const char *url,
		CfHttpResponse *resp, bool *cached_token)
{
	CfHandle   *handle = (CfHandle *) cf_connection_handle(conn);
	CfTransfer	transfer;
	char		errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *volatile headers = NULL;
	CURLcode	result = CURLE_OK;
	long		new_connects = 0;

	memset(&transfer, 0, sizeof(transfer));
	transfer.cxt = CurrentMemoryContext;
	transfer.limit = req->opts->max_response_size;

	/* after the headers: an IAM login they need is traced before this request */
	headers = build_headers(conn, req, url, cached_token);
	if (cloud_fdw_trace)
		ereport(NOTICE,
				(errmsg("cloud_fdw: %s %s%s%s", req->method, req->path,
						req->body ? " " : "",
						req->body ? (req->secret_body ? "(body not shown: it holds credentials)" : req->body) : "")));
	set_transfer_options(handle->easy, req, url, headers, &transfer, errbuf);
	if (curl_multi_add_handle(handle->multi, handle->easy) != CURLM_OK)
	{
		curl_slist_free_all(headers);
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not start HTTP transfer")));
	}

	PG_TRY();
	{
		result = run_transfer(handle);
	}
	PG_FINALLY();
	{
		/* detaching an unfinished transfer aborts it and drops its socket */
		curl_multi_remove_handle(handle->multi, handle->easy);
		curl_slist_free_all(headers);
	}
	PG_END_TRY();

	curl_easy_getinfo(handle->easy, CURLINFO_NUM_CONNECTS, &new_connects);
	cf_connection_count(conn, new_connects);

	if (transfer.too_large)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("response exceeds max_response_size of %zu bytes",
						req->opts->max_response_size),
				 errhint("Raise the server option \"max_response_size\" or lower \"page_size\".")));
	if (transfer.out_of_memory)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while receiving a response")));
	if (result != CURLE_OK)
		cf_report_transfer_error(req, (int) result,
								 errbuf[0] ? errbuf : curl_easy_strerror(result));

	curl_easy_getinfo(handle->easy, CURLINFO_RESPONSE_CODE, &resp->status);
	if (transfer.body == NULL)
		transfer.body = palloc(1);
	transfer.body[transfer.len] = '\0';
	resp->body = transfer.body;
	resp->body_len = transfer.len;
	resp->request_id = transfer.request_id[0] ? pstrdup(transfer.request_id) : NULL;
	resp->subject_token = transfer.subject_token;
}

/*
 * Send one request and wait for the whole response.  Transport failures are
 * raised here; the HTTP status is left to the caller, which knows whether a
 * 404 means "no such row" or an error.  A cached IAM token that the API
 * refuses (401) is replaced once.
 */
void
cf_send_request(CfConnection *conn, const CfHttpRequest *req, CfHttpResponse *resp)
{
	char	   *url = psprintf("%s%s", req->endpoint, req->path);
	bool		cached_token;

	perform(conn, req, url, resp, &cached_token);
	if (resp->status == 401 && cached_token)
	{
		cf_auth_forget_token(conn, req);
		perform(conn, req, url, resp, &cached_token);
	}
	pfree(url);
}
