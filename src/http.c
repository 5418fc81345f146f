/*-------------------------------------------------------------------------
 *
 * http.c
 *		  Transport: HTTP requests with libcurl, inside a backend.
 *
 * Each connection (user mapping) has one handle: a curl multi handle, which
 * owns the pool of kept-alive connections, and up to CF_MAX_TRANSFERS
 * transfers on it at once.  A request is started, then waited for, then
 * taken.  Nothing here knows a provider or a credential: requests arrive
 * with their headers, and answers leave with theirs.  Waiting gives control back to us at least every
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
#include "http.h"
#include "http.h"

#define CF_POLL_INTERVAL_MS 50
#define CF_USER_AGENT "cloud_fdw/" CLOUD_FDW_VERSION
/* Header lines of one answer kept for the caller, in bytes at most. */
#define CF_HEADERS_MAX (64 * 1024)

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
	CURLcode	result;
	const CfHttpRequest *req;	/* the caller's, alive until taken */
	struct curl_slist *headers;
	char		errbuf[CURL_ERROR_SIZE];
	const char *upload;			/* the request body, sent by send_body */
	size_t		upload_len;
	size_t		upload_pos;
	MemoryContext cxt;			/* where the response goes */
	char	   *body;
	size_t		len;
	size_t		capacity;
	char	   *header_lines;	/* of the answer, "name: value\n" each, in cxt */
	size_t		header_len;
	size_t		header_capacity;
	bool		too_large;
	bool		out_of_memory;
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
struct CfHttpHandle
{
	CURLM	   *multi;			/* owns the keep-alive connection pool */
	int			in_flight;
	CfTransfer **transfers;
	int			ntransfers;
	int64		requests;		/* started through this handle */
	int64		connects;		/* TCP/TLS connections it opened */
};

void
cf_http_init(void)
{
	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not initialize libcurl")));
}

CfHttpHandle *
cf_http_open(void)
{
	CfHttpHandle *handle = MemoryContextAllocZero(TopMemoryContext, sizeof(CfHttpHandle));

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
release_transfer(CfHttpHandle *handle, CfTransfer *t)
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
cf_http_abort(CfHttpHandle *handle, SubTransactionId subid)
{
	for (int i = 0; i < handle->ntransfers; i++)
	{
		CfTransfer *t = handle->transfers[i];

		if (!t->in_use || (subid != InvalidSubTransactionId && t->subid < subid))
			continue;
		release_transfer(handle, t);
	}
}

void
cf_http_close(CfHttpHandle *handle)
{
	cf_http_abort(handle, InvalidSubTransactionId);
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
cf_http_writes_in_flight(CfHttpHandle *handle)
{
	for (int i = 0; i < handle->ntransfers; i++)
		if (handle->transfers[i]->in_use && handle->transfers[i]->req->writes)
			return true;
	return false;
}

void
cf_http_counters(CfHttpHandle *handle, int64 *requests, int64 *connects)
{
	*requests = handle->requests;
	*connects = handle->connects;
}

/*
 * Curl callbacks must not ereport (a longjmp would leave curl inconsistent),
 * so they allocate without raising and report trouble through flags.
 *
 * Append to a buffer of cxt that grows by doubling, up to limit bytes (the
 * caller's check) plus a terminating NUL; false when memory runs out.
 */
static bool
append_bytes(CfTransfer *t, char **buf, size_t *len, size_t *capacity,
			 const char *data, size_t n, size_t limit)
{
	if (*len + n + 1 > *capacity)
	{
		size_t		grown_capacity = Max(*capacity * 2, 8192);
		char	   *grown;

		while (grown_capacity < *len + n + 1)
			grown_capacity *= 2;
		grown_capacity = Min(grown_capacity, limit + 1);
		grown = MemoryContextAllocExtended(t->cxt, grown_capacity, MCXT_ALLOC_NO_OOM);
		if (grown == NULL)
		{
			t->out_of_memory = true;
			return false;
		}
		if (*buf != NULL)
		{
			memcpy(grown, *buf, *len);
			pfree(*buf);
		}
		*buf = grown;
		*capacity = grown_capacity;
	}
	memcpy(*buf + *len, data, n);
	*len += n;
	(*buf)[*len] = '\0';
	return true;
}

static size_t
collect_body(char *data, size_t size, size_t nmemb, void *arg)
{
	CfTransfer *t = (CfTransfer *) arg;
	size_t		n = size * nmemb;
	size_t		limit = t->req->max_response_size;

	if (t->len + n > limit)
	{
		t->too_large = true;
		return 0;
	}
	if (!append_bytes(t, &t->body, &t->len, &t->capacity, data, n, limit))
		return 0;
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

	if ((value = header_value(line, n, "retry-after-ms", &len)) != NULL)
		t->retry_after_ms = retry_delay_ms(value, len, false);
	else if ((value = header_value(line, n, "retry-after", &len)) != NULL &&
			 t->retry_after_ms < 0)
		t->retry_after_ms = retry_delay_ms(value, len, true);
	/*
	 * Keep "name: value" lines, without the status line and line breaks.
	 * Lines past CF_HEADERS_MAX are not kept: a header the client needs
	 * (X-Subject-Token, x-request-id) is then missing, and said so.
	 */
	len = n;
	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	if (len > 0 && memchr(line, ':', len) != NULL &&
		t->header_len + len + 1 <= CF_HEADERS_MAX &&
		(!append_bytes(t, &t->header_lines, &t->header_len, &t->header_capacity,
					   line, len, CF_HEADERS_MAX) ||
		 !append_bytes(t, &t->header_lines, &t->header_len, &t->header_capacity,
					   "\n", 1, CF_HEADERS_MAX)))
		return 0;
	return n;
}

/* The value of a header of an answer (the last one of that name), or NULL. */
const char *
cf_http_header(const CfHttpResponse *resp, const char *name)
{
	const char *found = NULL;
	const char *line = resp->headers;

	while (line != NULL && *line)
	{
		const char *end = strchr(line, '\n');
		size_t		n = end ? (size_t) (end - line) : strlen(line);
		const char *value;
		size_t		len;

		if ((value = header_value(line, n, name, &len)) != NULL)
			found = pnstrdup(value, len);
		line = end ? end + 1 : NULL;
	}
	return found;
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
add_header(struct curl_slist *headers, const char *line)
{
	struct curl_slist *appended;

	if (strpbrk(line, "\r\n") != NULL)
	{
		char	   *name = pnstrdup(line, strcspn(line, ":"));

		curl_slist_free_all(headers);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("value for HTTP header \"%s\" contains a line break", name)));
	}
	appended = curl_slist_append(headers, line);
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
build_headers(const CfHttpRequest *req)
{
	/* a body is small: waiting for "100 Continue" would cost a round trip */
	struct curl_slist *headers = add_header(NULL, "Expect:");
	ListCell   *lc;

	foreach(lc, req->headers)
		headers = add_header(headers, (const char *) lfirst(lc));
	return headers;
}

static void
set_transfer_options(CURL *easy, const CfHttpRequest *req, struct curl_slist *headers,
					 CfTransfer *transfer)
{
	curl_easy_reset(easy);		/* keeps the connection pool */
	curl_easy_setopt(easy, CURLOPT_URL, req->url);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	/* ids are percent-encoded already; "/../" must reach the server as is */
	curl_easy_setopt(easy, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long) req->connect_timeout_ms);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long) req->request_timeout_ms);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
	if (req->ca_file != NULL)
		curl_easy_setopt(easy, CURLOPT_CAINFO, req->ca_file);
	curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(easy, CURLOPT_USERAGENT, CF_USER_AGENT);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, transfer->errbuf);
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

/* A free transfer slot, allocated when all are in use. */
static int
free_transfer(CfHttpHandle *handle)
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

/* Forget what an attempt received, before the next one. */
static void
reset_attempt(CfTransfer *t)
{
	t->len = 0;
	t->too_large = t->out_of_memory = false;
	t->header_len = 0;
	t->retry_after_ms = -1;
	t->errbuf[0] = '\0';
	t->upload_pos = 0;
}

/*
 * Start a request; its response will be kept in cxt.  The request (and what
 * it points to) must stay alive until cf_http_take.
 */
int
cf_http_start(CfHttpHandle *handle, const CfHttpRequest *req, MemoryContext cxt)
{
	struct curl_slist *headers = build_headers(req);
	CfTransfer *t;
	int			slot;

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

	t->in_use = true;
	t->done = false;
	t->subid = GetCurrentSubTransactionId();
	t->result = CURLE_OK;
	t->req = req;
	t->headers = headers;
	t->cxt = cxt;
	t->body = NULL;
	t->capacity = 0;
	t->header_lines = NULL;
	t->header_capacity = 0;
	t->retries = 0;
	t->retry_at = 0;
	reset_attempt(t);
	set_transfer_options(t->easy, req, headers, t);
	if (curl_multi_add_handle(handle->multi, t->easy) != CURLM_OK)
	{
		t->done = true;
		release_transfer(handle, t);
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not start HTTP transfer")));
	}
	handle->in_flight++;
	handle->requests++;
	return slot;
}

/*
 * Whether a finished attempt is worth another, and after how long.
 * Resendable requests (reads, logins) are retried on connection failures,
 * timeouts and the statuses that say "later" (408, 429, 500, 502, 503,
 * 504).  Anything else is retried only when it cannot have been applied:
 * the connection was refused before anything was sent, or the server said
 * 429/503 and when to come back.
 */
static bool
retry_delay(CfTransfer *t, CURLcode result, long status, long *delay_ms)
{
	bool		safe = t->req->resendable;
	bool		retry;

	if (t->retries >= t->req->max_retries || t->too_large || t->out_of_memory)
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
collect_finished(CfHttpHandle *handle)
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
			handle->connects += new_connects;
			curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
			if (retry_delay(t, msg->data.result, status, &delay_ms))
			{
				if (cloud_fdw_trace)
					ereport(NOTICE,
							(errmsg("cloud_fdw: retrying %s in %ld ms (%s)",
									t->req->label, delay_ms,
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
resend_due(CfHttpHandle *handle)
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
 * caller wants to pass the time (a pause).
 */
static void
drive(CfHttpHandle *handle, int timeout_ms, bool idle_wait)
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
	if (mc == CURLM_OK && collect_finished(handle) == 0 &&
		(running > 0 || idle_wait))
	{
		pgstat_report_wait_start(cf_wait_event_request());
		mc = curl_multi_poll(handle->multi, NULL, 0, timeout_ms, NULL);
		pgstat_report_wait_end();
		if (mc == CURLM_OK)
			mc = curl_multi_perform(handle->multi, &running);
		collect_finished(handle);
	}
	if (mc != CURLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not run HTTP transfer: %s", curl_multi_strerror(mc))));
}

/*
 * Pass the time until "until" (a rate limit), keeping the other transfers
 * going and waking up for interrupts.
 */
void
cf_http_pause_until(CfHttpHandle *handle, TimestampTz until)
{
	PG_TRY();
	{
		TimestampTz now;

		while ((now = GetCurrentTimestamp()) < until)
		{
			long		remaining_ms = (until - now) / 1000 + 1;

			drive(handle, (int) Min(remaining_ms, CF_POLL_INTERVAL_MS), true);
			CHECK_FOR_INTERRUPTS();
		}
	}
	PG_CATCH();
	{
		cf_http_abort(handle, InvalidSubTransactionId);
		PG_RE_THROW();
	}
	PG_END_TRY();
}

/*
 * Wait until one of the given transfers is done; returns its slot.  Only
 * the caller's own transfers count: other scans and updates of the
 * statement may have theirs on the same handle.  On any error, every
 * transfer of the handle is aborted.
 */
int
cf_http_wait_any(CfHttpHandle *handle, const int *slots, int nslots)
{
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
			drive(handle, CF_POLL_INTERVAL_MS, false);
			CHECK_FOR_INTERRUPTS();
		}
	}
	PG_CATCH();
	{
		cf_http_abort(handle, InvalidSubTransactionId);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return found;
}

/*
 * Take the answer of a finished transfer and free its slot.  Limits are
 * raised here; a transfer that got no answer is said in transfer_error,
 * for the caller to report; the status is the caller's to judge.
 */
void
cf_http_take(CfHttpHandle *handle, int slot, CfHttpResponse *resp)
{
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
	resp->headers = t->header_len > 0 ? t->header_lines : NULL;
	resp->retries = t->retries;
	strlcpy(errbuf, t->errbuf, sizeof(errbuf));
	release_transfer(handle, t);

	if (t->too_large)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("response exceeds max_response_size of %zu bytes",
						req->max_response_size),
				 errhint("Raise the server option \"max_response_size\" or lower \"page_size\".")));
	if (t->out_of_memory)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while receiving a response")));
	resp->transfer_error = (int) result;
	resp->transfer_message = result == CURLE_OK ? NULL
		: pstrdup(errbuf[0] ? errbuf : curl_easy_strerror(result));
}
