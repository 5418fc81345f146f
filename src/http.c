/*-------------------------------------------------------------------------
 *
 * http.c
 *		  HTTP requests with libcurl, inside a backend.
 *
 * Each connection (user mapping) has one curl multi handle, which owns the
 * pool of kept-alive connections, and up to CF_MAX_TRANSFERS transfers on
 * it at once.  A request is started, then waited for; a synchronous
 * request is both.  Waiting gives control back to us at least every
 * CF_POLL_INTERVAL_MS: there we check for interrupts, so that
 * pg_cancel_backend, statement_timeout and termination work even while a
 * server is silent.  Curl never sees a longjmp: interrupts are serviced
 * between curl calls, and on any error every transfer of the connection is
 * detached (which aborts it).  Response bodies are buffered in PostgreSQL
 * memory, so they are freed with their memory context on every path.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>

#include "access/xact.h"
#include "common/pg_prng.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "cloud_fdw.h"

#define CF_POLL_INTERVAL_MS 50
#define CF_USER_AGENT "cloud_fdw/" CLOUD_FDW_VERSION
#define CF_REQUEST_ID_MAX 128

/* Retries back off exponentially from this, with jitter, up to the cap. */
#define CF_RETRY_BASE_MS 100
#define CF_RETRY_CAP_MS 5000
/* A server asking for a longer pause than this gets an error instead. */
#define CF_RETRY_AFTER_MAX_MS 60000

/* One request on its way: what the callbacks fill in, and its easy handle. */
typedef struct CfTransfer
{
	CURL	   *easy;			/* kept between requests */
	bool		in_use;
	bool		done;
	SubTransactionId subid;		/* started in this subtransaction */
	bool		is_write;		/* may change the cloud (not a GET, not a login) */
	CURLcode	result;
	const CfHttpRequest *req;	/* the caller's, alive until finished */
	char	   *url;
	struct curl_slist *headers;
	bool		cached_token;
	char		errbuf[CURL_ERROR_SIZE];
	const char *upload;			/* the request body, sent by send_body */
	size_t		upload_len;
	size_t		upload_pos;
	MemoryContext cxt;			/* where the response goes */
	char	   *body;
	size_t		len;
	size_t		capacity;
	size_t		limit;
	bool		too_large;
	bool		out_of_memory;
	char		request_id[CF_REQUEST_ID_MAX];
	char	   *subject_token;	/* IAM's X-Subject-Token */
	long		retry_after_ms; /* the server's Retry-After(-Ms), or -1 */
	int			retries;		/* made so far */
	TimestampTz retry_at;		/* waiting to be sent again then, or 0 */
} CfTransfer;

/*
 * Transfers are allocated one by one and never move, because curl's
 * callbacks hold pointers to them; the array of pointers grows on demand,
 * since several scans and updates of one statement (partitions, CTEs) may
 * each have "concurrency" transfers on their way.
 */
typedef struct CfHandle
{
	CURLM	   *multi;			/* owns the keep-alive connection pool */
	int			in_flight;
	TimestampTz next_start;		/* rate limit: when the next may start */
	CfTransfer **transfers;
	int			ntransfers;
} CfHandle;

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
	if (handle->multi == NULL)
	{
		pfree(handle);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create a libcurl handle")));
	}
	return handle;
}

/* Detach a transfer (aborting it if unfinished) and free its headers. */
static void
release_transfer(CfHandle *handle, CfTransfer *t)
{
	if (!t->in_use)
		return;
	/* a retry waiting for its time is not in the multi handle: harmless */
	curl_multi_remove_handle(handle->multi, t->easy);
	curl_slist_free_all(t->headers);
	t->headers = NULL;
	t->in_use = false;
	t->retry_at = 0;
	if (!t->done)
		handle->in_flight--;
	t->done = false;
}

/*
 * Abort the transfers of a handle started in subtransaction subid or later
 * (InvalidSubTransactionId: all of them).
 */
void
cf_http_abort(void *h, SubTransactionId subid)
{
	CfHandle   *handle = (CfHandle *) h;

	for (int i = 0; i < handle->ntransfers; i++)
	{
		CfTransfer *t = handle->transfers[i];

		if (!t->in_use || (subid != InvalidSubTransactionId && t->subid < subid))
			continue;
		release_transfer(handle, t);
	}
}

void
cf_http_abort_all(void *h)
{
	cf_http_abort(h, InvalidSubTransactionId);
}

void
cf_http_close(void *h)
{
	CfHandle   *handle = (CfHandle *) h;

	cf_http_abort_all(handle);
	for (int i = 0; i < handle->ntransfers; i++)
	{
		if (handle->transfers[i]->easy)
			curl_easy_cleanup(handle->transfers[i]->easy);
		pfree(handle->transfers[i]);
	}
	if (handle->transfers)
		pfree(handle->transfers);
	curl_multi_cleanup(handle->multi);
	pfree(handle);
}

/* Whether writes of this handle are on their way, which closing would abandon. */
bool
cf_http_writes_in_flight(void *h)
{
	CfHandle   *handle = (CfHandle *) h;

	for (int i = 0; i < handle->ntransfers; i++)
		if (handle->transfers[i]->in_use && handle->transfers[i]->is_write)
			return true;
	return false;
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

/*
 * A Retry-After value in milliseconds: a number (of seconds, or of
 * milliseconds for Retry-After-Ms) or, for Retry-After, an HTTP date.
 * -1 when it cannot be read.  No palloc: this runs in a curl callback.
 */
static long
retry_delay_ms(const char *value, size_t len, bool seconds)
{
	char		buf[64];
	char	   *end;
	double		number;

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, value, len);
	buf[len] = '\0';
	number = strtod(buf, &end);
	if (end != buf && *end == '\0')
		return number < 0 ? -1 : (long) (seconds ? number * 1000 : number);
	if (seconds)
	{
		time_t		when = curl_getdate(buf, NULL);

		if (when != -1)
			return Max(0, (long) (when - time(NULL)) * 1000);
	}
	return -1;
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
	else if ((value = header_value(line, n, "retry-after-ms", &len)) != NULL)
		t->retry_after_ms = retry_delay_ms(value, len, false);
	else if ((value = header_value(line, n, "retry-after", &len)) != NULL &&
			 t->retry_after_ms < 0)
		t->retry_after_ms = retry_delay_ms(value, len, true);
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

static size_t
send_body(char *buffer, size_t size, size_t nitems, void *arg)
{
	CfTransfer *t = (CfTransfer *) arg;
	size_t		n = Min(size * nitems, t->upload_len - t->upload_pos);

	memcpy(buffer, t->upload + t->upload_pos, n);
	t->upload_pos += n;
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
					 struct curl_slist *headers, CfTransfer *transfer)
{
	char	   *errbuf = transfer->errbuf;

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
	if (req->opts->ca_file != NULL)
		curl_easy_setopt(easy, CURLOPT_CAINFO, req->opts->ca_file);
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
		/*
		 * The body goes through a read callback that cannot rewind: libcurl
		 * resends a request on a fresh connection when a kept-alive one
		 * dies without an answer, and without a rewind it can do so only if
		 * nothing of the body had been sent.  A write that may have reached
		 * the server is then reported, never repeated.
		 */
		transfer->upload = req->body ? req->body : "";
		transfer->upload_len = strlen(transfer->upload);
		transfer->upload_pos = 0;
		curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, req->method);
		curl_easy_setopt(easy, CURLOPT_READFUNCTION, send_body);
		curl_easy_setopt(easy, CURLOPT_READDATA, transfer);
		curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t) transfer->upload_len);
	}
}

static void wait_for_rate(CfConnection *conn, CfHandle *handle, double rate);

/* A free transfer slot, allocated when all are in use. */
static int
free_transfer(CfHandle *handle)
{
	int			slot;

	for (slot = 0; slot < handle->ntransfers; slot++)
		if (!handle->transfers[slot]->in_use)
			return slot;
	if (handle->ntransfers >= CF_MAX_TRANSFERS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many cloud API requests on their way at once"),
				 errdetail("One connection carries at most %d requests at a time.",
						   CF_MAX_TRANSFERS),
				 errhint("Lower the server option \"concurrency\".")));
	if (handle->transfers == NULL)
		handle->transfers = MemoryContextAlloc(TopMemoryContext,
											   sizeof(CfTransfer *) * CF_MAX_TRANSFERS);
	handle->transfers[slot] = MemoryContextAllocZero(TopMemoryContext, sizeof(CfTransfer));
	handle->ntransfers++;
	return slot;
}

/*
 * Start a request; its response will be kept in cxt.  The request (and what
 * it points to) must stay alive until cf_http_finish.
 */
int
cf_http_start(CfConnection *conn, const CfHttpRequest *req, MemoryContext cxt)
{
	CfHandle   *handle = (CfHandle *) cf_connection_handle(conn);
	MemoryContext oldcxt = MemoryContextSwitchTo(cxt);
	char	   *url = psprintf("%s%s", req->endpoint, req->path);
	CfTransfer *t;
	int			slot;
	struct curl_slist *headers;
	bool		cached_token;

	if (!req->anonymous)
		wait_for_rate(conn, handle, req->opts->rate_limit);

	/*
	 * First the headers: an IAM login they may need runs (and is traced)
	 * before this request, in a slot of its own.
	 */
	headers = build_headers(conn, req, url, &cached_token);
	PG_TRY();
	{
		slot = free_transfer(handle);
	}
	PG_CATCH();
	{
		curl_slist_free_all(headers);
		PG_RE_THROW();
	}
	PG_END_TRY();
	t = handle->transfers[slot];
	if (t->easy == NULL && (t->easy = curl_easy_init()) == NULL)
	{
		curl_slist_free_all(headers);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create a libcurl handle")));
	}
	t->url = url;
	if (cloud_fdw_trace)
		ereport(NOTICE,
				(errmsg("cloud_fdw: %s %s%s%s", req->method, req->path,
						req->body ? " " : "",
						req->body ? (req->secret_body ? "(body not shown: it holds credentials)"
									 : cf_utf8_to_display(req->body, strlen(req->body))) : "")));

	t->in_use = true;
	t->done = false;
	t->subid = GetCurrentSubTransactionId();
	t->is_write = (strcmp(req->method, "GET") != 0 && !req->anonymous);
	t->result = CURLE_OK;
	t->req = req;
	t->headers = headers;
	t->cached_token = cached_token;
	t->errbuf[0] = '\0';
	t->cxt = cxt;
	t->body = NULL;
	t->len = t->capacity = 0;
	t->limit = req->opts->max_response_size;
	t->too_large = t->out_of_memory = false;
	t->request_id[0] = '\0';
	t->subject_token = NULL;
	t->retry_after_ms = -1;
	t->retries = 0;
	t->retry_at = 0;
	set_transfer_options(t->easy, req, t->url, headers, t);
	if (curl_multi_add_handle(handle->multi, t->easy) != CURLM_OK)
	{
		t->done = true;
		release_transfer(handle, t);
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not start HTTP transfer")));
	}
	handle->in_flight++;
	cf_connection_count_request(conn);
	if (t->is_write)
		cf_connection_mark_write(conn);
	MemoryContextSwitchTo(oldcxt);
	return slot;
}

/* Forget what an attempt received, before the next one. */
static void
reset_attempt(CfTransfer *t)
{
	t->len = 0;
	t->too_large = t->out_of_memory = false;
	t->request_id[0] = '\0';
	t->subject_token = NULL;
	t->retry_after_ms = -1;
	t->errbuf[0] = '\0';
	t->upload_pos = 0;
}

/*
 * Whether a finished attempt is worth another, and after how long.  Gets
 * are retried on connection failures, timeouts and the statuses that say
 * "later" (408, 429, 500, 502, 503, 504).  Anything else is retried only
 * when it cannot have been applied: the connection was refused before
 * anything was sent, or the server said 429/503 and when to come back.
 */
static bool
retry_delay(CfTransfer *t, CURLcode result, long status, long *delay_ms)
{
	bool		safe = (strcmp(t->req->method, "GET") == 0 || t->req->idempotent);
	bool		retry;

	if (t->retries >= t->req->opts->max_retries || t->too_large || t->out_of_memory)
		return false;
	if (result != CURLE_OK)
		retry = (result == CURLE_COULDNT_CONNECT) ||
			(safe && (result == CURLE_OPERATION_TIMEDOUT || result == CURLE_RECV_ERROR ||
					  result == CURLE_SEND_ERROR || result == CURLE_GOT_NOTHING ||
					  result == CURLE_PARTIAL_FILE));
	else if (status == 429 || status == 503)
		retry = safe || t->retry_after_ms >= 0;
	else
		retry = safe && (status == 408 || status == 500 || status == 502 || status == 504);
	if (!retry || t->retry_after_ms > CF_RETRY_AFTER_MAX_MS)
		return false;

	if (t->retry_after_ms >= 0)
		*delay_ms = t->retry_after_ms;
	else
	{
		long		backoff = Min(CF_RETRY_CAP_MS, CF_RETRY_BASE_MS << Min(t->retries, 16));

		*delay_ms = (long) (backoff * (0.5 + 0.5 * pg_prng_double(&pg_global_prng_state)));
	}
	return true;
}

/*
 * Move the transfers curl has finished to the done state, or to a retry
 * later; how many are done.
 */
static int
collect_finished(CfConnection *conn, CfHandle *handle)
{
	CURLMsg    *msg;
	int			queued;
	int			finished = 0;

	while ((msg = curl_multi_info_read(handle->multi, &queued)) != NULL)
	{
		if (msg->msg != CURLMSG_DONE)
			continue;
		for (int i = 0; i < handle->ntransfers; i++)
		{
			CfTransfer *t = handle->transfers[i];
			long		new_connects = 0;
			long		status = 0;
			long		delay_ms;

			if (!t->in_use || t->done || t->easy != msg->easy_handle)
				continue;
			curl_easy_getinfo(t->easy, CURLINFO_NUM_CONNECTS, &new_connects);
			cf_connection_add_connects(conn, new_connects);
			curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
			if (retry_delay(t, msg->data.result, status, &delay_ms))
			{
				if (cloud_fdw_trace)
					ereport(NOTICE,
							(errmsg("cloud_fdw: retrying %s %s in %ld ms (%s)",
									t->req->method, t->req->path, delay_ms,
									msg->data.result != CURLE_OK
									? curl_easy_strerror(msg->data.result)
									: psprintf("HTTP %ld", status))));
				curl_multi_remove_handle(handle->multi, t->easy);
				t->retries++;
				t->retry_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), delay_ms);
				reset_attempt(t);
				break;
			}
			t->done = true;
			t->result = msg->data.result;
			handle->in_flight--;
			finished++;
		}
	}
	return finished;
}

/* Send again the retries whose time has come; the time of the next, or 0. */
static TimestampTz
resend_due(CfHandle *handle)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz next = 0;

	for (int i = 0; i < handle->ntransfers; i++)
	{
		CfTransfer *t = handle->transfers[i];

		if (!t->in_use || t->retry_at == 0)
			continue;
		if (t->retry_at <= now)
		{
			t->retry_at = 0;
			if (curl_multi_add_handle(handle->multi, t->easy) != CURLM_OK)
				ereport(ERROR,
						(errcode(ERRCODE_CONNECTION_FAILURE),
						 errmsg("could not start HTTP transfer")));
		}
		else if (next == 0 || t->retry_at < next)
			next = t->retry_at;
	}
	return next;
}

/*
 * Let curl work, then wait up to timeout_ms for a socket to be ready; no
 * wait when a transfer just finished, or when none is running unless the
 * caller wants to pass the time (the rate limit).
 */
static void
drive(CfConnection *conn, CfHandle *handle, int timeout_ms, bool idle_wait)
{
	int			running;
	TimestampTz next_retry = resend_due(handle);
	CURLMcode	mc = curl_multi_perform(handle->multi, &running);

	if (next_retry != 0)
	{
		long		until_retry_ms = (next_retry - GetCurrentTimestamp()) / 1000 + 1;

		timeout_ms = (int) Max(0, Min(timeout_ms, until_retry_ms));
		idle_wait = true;		/* a retry is waiting for its time */
	}
	if (mc == CURLM_OK && collect_finished(conn, handle) == 0 &&
		(running > 0 || idle_wait))
	{
		pgstat_report_wait_start(cf_wait_event_request());
		mc = curl_multi_poll(handle->multi, NULL, 0, timeout_ms, NULL);
		pgstat_report_wait_end();
		if (mc == CURLM_OK)
			mc = curl_multi_perform(handle->multi, &running);
		collect_finished(conn, handle);
	}
	if (mc != CURLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not run HTTP transfer: %s", curl_multi_strerror(mc))));
}

/*
 * Client-side rate limit: requests start at least 1/rate seconds apart.
 * The wait keeps the other transfers going and wakes up for interrupts.
 */
static void
wait_for_rate(CfConnection *conn, CfHandle *handle, double rate)
{
	TimestampTz now = GetCurrentTimestamp();

	if (rate <= 0)
		return;
	PG_TRY();
	{
		while (now < handle->next_start)
		{
			long		remaining_ms = (handle->next_start - now) / 1000 + 1;

			drive(conn, handle, (int) Min(remaining_ms, CF_POLL_INTERVAL_MS), true);
			CHECK_FOR_INTERRUPTS();
			now = GetCurrentTimestamp();
		}
	}
	PG_CATCH();
	{
		cf_http_abort_all(handle);
		PG_RE_THROW();
	}
	PG_END_TRY();
	handle->next_start = Max(now, handle->next_start) + (TimestampTz) (USECS_PER_SEC / rate);
}

/*
 * Wait until one of the given transfers is done; returns its slot.  Only
 * the caller's own transfers count: other scans and updates of the
 * statement may have theirs on the same connection.  On any error, every
 * transfer of the connection is aborted.
 */
int
cf_http_wait_any(CfConnection *conn, const int *slots, int nslots)
{
	CfHandle   *handle = (CfHandle *) cf_connection_handle(conn);
	volatile int found = -1;

	Assert(nslots > 0);
	PG_TRY();
	{
		for (;;)
		{
			for (int i = 0; i < nslots && found < 0; i++)
			{
				CfTransfer *t = handle->transfers[slots[i]];

				Assert(t->in_use);
				if (t->done)
					found = slots[i];
			}
			if (found >= 0)
				break;
			drive(conn, handle, CF_POLL_INTERVAL_MS, false);
			CHECK_FOR_INTERRUPTS();
		}
	}
	PG_CATCH();
	{
		cf_http_abort_all(handle);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return found;
}

int
cf_http_wait(CfConnection *conn, int slot)
{
	return cf_http_wait_any(conn, &slot, 1);
}

/*
 * Take the response of a finished transfer and free its slot.  Transport
 * failures are raised here.  *cached_token says whether the request
 * carried a cached IAM token.
 */
static void
take_response(CfConnection *conn, int slot, CfHttpResponse *resp, bool *cached_token)
{
	CfHandle   *handle = (CfHandle *) cf_connection_handle(conn);
	CfTransfer *t = handle->transfers[slot];
	const CfHttpRequest *req = t->req;
	CURLcode	result = t->result;
	char		errbuf[CURL_ERROR_SIZE];

	resp->status = 0;
	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &resp->status);
	if (t->body == NULL)
		t->body = MemoryContextAlloc(t->cxt, 1);
	t->body[t->len] = '\0';
	resp->body = t->body;
	resp->body_len = t->len;
	resp->request_id = t->request_id[0] ? MemoryContextStrdup(t->cxt, t->request_id) : NULL;
	resp->subject_token = t->subject_token;
	resp->retries = t->retries;
	*cached_token = t->cached_token;
	strlcpy(errbuf, t->errbuf, sizeof(errbuf));
	release_transfer(handle, t);

	if (t->too_large)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("response exceeds max_response_size of %zu bytes",
						req->opts->max_response_size),
				 errhint("Raise the server option \"max_response_size\" or lower \"page_size\".")));
	if (t->out_of_memory)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while receiving a response")));
	if (result != CURLE_OK)
		cf_report_transfer_error(req, (int) result,
								 errbuf[0] ? errbuf : curl_easy_strerror(result));
}

/*
 * Take the response of a finished transfer, whichever way it was started.
 * The HTTP status is left to the caller, which knows whether a 404 means
 * "no such row" or an error.  A cached IAM token that the API refuses (401)
 * was refused before anything was done, so it is replaced and the request
 * sent again, once, for every kind of request alike.
 */
void
cf_http_finish(CfConnection *conn, int slot, CfHttpResponse *resp)
{
	CfHandle   *handle = (CfHandle *) cf_connection_handle(conn);
	const CfHttpRequest *req = handle->transfers[slot]->req;
	MemoryContext cxt = handle->transfers[slot]->cxt;
	bool		cached_token;

	take_response(conn, slot, resp, &cached_token);
	if (resp->status == 401 && cached_token)
	{
		cf_auth_forget_token(conn, req);
		slot = cf_http_start(conn, req, cxt);
		take_response(conn, cf_http_wait(conn, slot), resp, &cached_token);
	}
}

/* Send one request and wait for its whole response, in the current memory context. */
void
cf_send_request(CfConnection *conn, const CfHttpRequest *req, CfHttpResponse *resp)
{
	int			slot = cf_http_start(conn, req, CurrentMemoryContext);

	cf_http_finish(conn, cf_http_wait(conn, slot), resp);
}
