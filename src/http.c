/*-------------------------------------------------------------------------
 *
 * http.c
 *		  Transport: HTTP requests with libcurl, inside a backend.
 *
 * Each connection (user mapping) has one handle: a curl multi handle, which
 * owns the pool of kept-alive connections, and up to CF_MAX_TRANSFERS
 * transfers on it at once.  A request is started, then waited for, then
 * taken; each start gets a ticket, never reused, so that a caller holding
 * the ticket of an aborted transfer learns it was abandoned instead of
 * taking someone else's answer.  Nothing here knows a provider or a
 * credential: requests arrive with their headers, and answers leave with
 * theirs.
 *
 * Curl is driven through its socket interface: the sockets it wants
 * watched, and a timer, sit in an epoll set of the handle, so that one
 * descriptor tells when the handle has work.  A backend waits on it with
 * its latch (pg_cancel_backend, statement_timeout and termination are
 * serviced at once), and an asynchronous Append waits on it among its other
 * partitions.  Curl never sees a longjmp: interrupts are serviced between
 * curl calls, and on any error every transfer of the handle is detached
 * (which aborts it).  Response bodies are buffered in PostgreSQL memory, so
 * they are freed with their memory context on every path.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <curl/curl.h>

#include "access/xact.h"
#include "common/pg_prng.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "cloud_fdw.h"
#include "http.h"

#define CF_POLL_INTERVAL_MS 50
#define CF_USER_AGENT "cloud_fdw/" CLOUD_FDW_VERSION
/* Header lines of one answer kept for the caller, in bytes at most. */
#define CF_HEADERS_MAX (64 * 1024)
/* Bytes reserved at once for an answer that announces its length, at most. */
#define CF_BODY_RESERVE_MAX (1024 * 1024)

/* Retries back off exponentially from this, with jitter, up to the cap. */
#define CF_RETRY_BASE_MS 100
#define CF_RETRY_CAP_MS 5000
/* A server asking for a longer pause than this gets an error instead. */
#define CF_RETRY_AFTER_MAX_MS 60000

/* One request on its way: what the callbacks fill in, and its easy handle. */
typedef struct CfTransfer
{
	CURL	   *easy;			/* kept between requests */
	uint64		ticket;			/* of the request it carries; 0: free */
	bool		in_multi;		/* added to the multi handle (not waiting) */
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
	TimestampTz send_at;		/* waiting to be sent then (a pace, a retry), or 0 */
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
	uint64		id;				/* distinguishes handles, also across reuse */
	int			epoll_fd;		/* curl's sockets and the alarm */
	int			alarm_fd;		/* a timerfd: readable when the handle has work */
	TimestampTz curl_due;		/* curl's timer expires then; 0: none */
	TimestampTz alarm_at;		/* the alarm is armed for then; 0: not armed */
	bool		socket_failed;	/* the epoll set refused a socket */
	int			in_flight;		/* started, not finished */
	CfTransfer **transfers;
	int			ntransfers;
	uint64		next_ticket;
	int64		requests;		/* started through this handle */
	int64		connects;		/* TCP/TLS connections it opened */
};

static uint64 next_handle_id = 1;

static int	watch_socket(CURL *easy, curl_socket_t s, int what, void *arg, void *socketp);
static int	set_curl_timer(CURLM *multi, long timeout_ms, void *arg);

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
	struct epoll_event ev = {.events = EPOLLIN};

	handle->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	handle->alarm_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	ev.data.fd = handle->alarm_fd;
	if (handle->epoll_fd < 0 || handle->alarm_fd < 0 ||
		epoll_ctl(handle->epoll_fd, EPOLL_CTL_ADD, handle->alarm_fd, &ev) != 0 ||
		(handle->multi = curl_multi_init()) == NULL)
	{
		int			save_errno = errno;

		if (handle->epoll_fd >= 0)
			close(handle->epoll_fd);
		if (handle->alarm_fd >= 0)
			close(handle->alarm_fd);
		pfree(handle);
		errno = save_errno;
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create a libcurl handle: %m")));
	}
	curl_multi_setopt(handle->multi, CURLMOPT_SOCKETFUNCTION, watch_socket);
	curl_multi_setopt(handle->multi, CURLMOPT_SOCKETDATA, handle);
	curl_multi_setopt(handle->multi, CURLMOPT_TIMERFUNCTION, set_curl_timer);
	curl_multi_setopt(handle->multi, CURLMOPT_TIMERDATA, handle);
	handle->id = next_handle_id++;
	handle->next_ticket = 1;
	return handle;
}

uint64
cf_http_id(CfHttpHandle *handle)
{
	return handle->id;
}

/* Detach a transfer (aborting it if unfinished) and free its headers. */
static void
release_transfer(CfHttpHandle *handle, CfTransfer *t)
{
	if (t->ticket == 0)
		return;
	if (t->in_multi)
		curl_multi_remove_handle(handle->multi, t->easy);
	curl_slist_free_all(t->headers);
	t->headers = NULL;
	t->ticket = 0;
	t->in_multi = false;
	t->send_at = 0;
	if (!t->done)
		handle->in_flight--;
	t->done = false;
}

static CfTransfer *
find_transfer(CfHttpHandle *handle, uint64 ticket)
{
	for (int i = 0; i < handle->ntransfers; i++)
		if (handle->transfers[i]->ticket == ticket)
			return handle->transfers[i];
	return NULL;
}

/*
 * Abort the transfers of a handle started in subtransaction subid or later
 * (InvalidSubTransactionId: all of them).  Their tickets say "abandoned".
 */
void
cf_http_abort(CfHttpHandle *handle, SubTransactionId subid)
{
	for (int i = 0; i < handle->ntransfers; i++)
	{
		CfTransfer *t = handle->transfers[i];

		if (t->ticket == 0 || (subid != InvalidSubTransactionId && t->subid < subid))
			continue;
		release_transfer(handle, t);
	}
}

/* Abandon one request (its owner no longer wants the answer); no error. */
void
cf_http_cancel(CfHttpHandle *handle, uint64 ticket)
{
	CfTransfer *t = find_transfer(handle, ticket);

	if (t != NULL)
		release_transfer(handle, t);
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
	close(handle->alarm_fd);
	close(handle->epoll_fd);
	pfree(handle);
}

/* Whether writes of this handle are on their way, which closing would abandon. */
bool
cf_http_writes_in_flight(CfHttpHandle *handle)
{
	for (int i = 0; i < handle->ntransfers; i++)
		if (handle->transfers[i]->ticket != 0 && handle->transfers[i]->req->writes)
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
 * Curl's socket callback: watch a socket for what curl waits for.  A
 * socket is known to the epoll set once curl_multi_assign marked it.
 */
static int
watch_socket(CURL *easy, curl_socket_t s, int what, void *arg, void *socketp)
{
	CfHttpHandle *handle = (CfHttpHandle *) arg;
	struct epoll_event ev = {0};

	if (what == CURL_POLL_REMOVE)
	{
		/* curl may have closed it already, which removed it */
		epoll_ctl(handle->epoll_fd, EPOLL_CTL_DEL, s, NULL);
		curl_multi_assign(handle->multi, s, NULL);
		return 0;
	}
	ev.data.fd = s;
	ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0);
	if (epoll_ctl(handle->epoll_fd, socketp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s, &ev) != 0 &&
		epoll_ctl(handle->epoll_fd, socketp ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, s, &ev) != 0)
	{
		handle->socket_failed = true;
		return -1;
	}
	curl_multi_assign(handle->multi, s, handle);
	return 0;
}

/* Curl's timer callback: when it wants to be called with CURL_SOCKET_TIMEOUT. */
static int
set_curl_timer(CURLM *multi, long timeout_ms, void *arg)
{
	CfHttpHandle *handle = (CfHttpHandle *) arg;

	handle->curl_due = timeout_ms < 0 ? 0
		: TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	return 0;
}

/*
 * Curl callbacks must not ereport (a longjmp would leave curl inconsistent),
 * so they allocate without raising and report trouble through flags.
 *
 * Append to a buffer of cxt that grows by doubling, up to limit bytes (the
 * caller's check) plus a terminating NUL, and is first made large enough for
 * the expected length; false when memory runs out.
 */
static bool
append_bytes(CfTransfer *t, char **buf, size_t *len, size_t *capacity,
			 const char *data, size_t n, size_t expected, size_t limit)
{
	if (*len + n + 1 > *capacity)
	{
		size_t		grown_capacity = Max(Max(*capacity * 2, 8192), expected + 1);
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
	size_t		expected = 0;
	curl_off_t	announced;

	if (t->len + n > limit)
	{
		t->too_large = true;
		return 0;
	}
	/*
	 * An answer that says how long it is fills one buffer, never copied to a
	 * larger one; up to CF_BODY_RESERVE_MAX only, so that a length announced
	 * and not sent reserves little.
	 */
	if (t->capacity == 0 &&
		curl_easy_getinfo(t->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &announced) == CURLE_OK &&
		announced > 0 && (size_t) announced <= limit)
		expected = Min((size_t) announced, CF_BODY_RESERVE_MAX);
	if (!append_bytes(t, &t->body, &t->len, &t->capacity, data, n, expected, limit))
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
					   line, len, 0, CF_HEADERS_MAX) ||
		 !append_bytes(t, &t->header_lines, &t->header_len, &t->header_capacity,
					   "\n", 1, 0, CF_HEADERS_MAX)))
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
	/* a page of a listing arrives in one read and one callback, not three (16 kB) */
	curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, 65536L);
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

/* A free transfer, allocated when all are in use. */
static CfTransfer *
free_transfer(CfHttpHandle *handle)
{
	int			slot;

	for (slot = 0; slot < handle->ntransfers; slot++)
		if (handle->transfers[slot]->ticket == 0)
			return handle->transfers[slot];
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
	return handle->transfers[slot];
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

/* Hand a transfer to curl now, or keep it waiting until "when". */
static void
schedule(CfHttpHandle *handle, CfTransfer *t, TimestampTz when)
{
	if (when > GetCurrentTimestamp())
	{
		t->send_at = when;
		return;
	}
	t->send_at = 0;
	if (curl_multi_add_handle(handle->multi, t->easy) != CURLM_OK)
	{
		t->done = true;
		handle->in_flight--;
		t->result = CURLE_FAILED_INIT;
		return;
	}
	t->in_multi = true;
}

/* When the request's pacer lets an attempt go that we would send at "earliest". */
static TimestampTz
paced(const CfHttpRequest *req, TimestampTz earliest, long retry_after_ms)
{
	TimestampTz allowed;

	if (req->pace == NULL)
		return earliest;
	allowed = req->pace(req->pace_arg, retry_after_ms);
	return Max(earliest, allowed);
}

/*
 * Start a request; its response will be kept in cxt.  The request (and what
 * it points to) must stay alive until cf_http_take or cf_http_cancel.
 * Returns its ticket.
 */
uint64
cf_http_start(CfHttpHandle *handle, const CfHttpRequest *req, MemoryContext cxt)
{
	struct curl_slist *headers = build_headers(req);
	CfTransfer *t;

	PG_TRY();
	{
		t = free_transfer(handle);
	}
	PG_CATCH();
	{
		curl_slist_free_all(headers);
		PG_RE_THROW();
	}
	PG_END_TRY();
	if (t->easy == NULL && (t->easy = curl_easy_init()) == NULL)
	{
		curl_slist_free_all(headers);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create a libcurl handle")));
	}

	t->ticket = handle->next_ticket++;
	t->done = false;
	t->in_multi = false;
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
	reset_attempt(t);
	set_transfer_options(t->easy, req, headers, t);
	handle->in_flight++;
	handle->requests++;
	schedule(handle, t, paced(req, GetCurrentTimestamp(), -1));

	/*
	 * A request leaves when it is started: under an asynchronous Append
	 * nothing else may drive this handle for a while, and a write that an
	 * error overtook before it left would be reported in doubt.
	 */
	cf_http_poll(handle);
	return t->ticket;
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

			if (t->ticket == 0 || t->done || t->easy != msg->easy_handle)
				continue;
			curl_easy_getinfo(t->easy, CURLINFO_NUM_CONNECTS, &new_connects);
			handle->connects += new_connects;
			curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
			curl_multi_remove_handle(handle->multi, t->easy);
			t->in_multi = false;
			if (retry_delay(t, msg->data.result, status, &delay_ms))
			{
				long		retry_after_ms = t->retry_after_ms;

				if (cloud_fdw_trace)
					ereport(NOTICE,
							(errmsg("cloud_fdw: retrying %s in %ld ms (%s)",
									t->req->label, delay_ms,
									msg->data.result != CURLE_OK
									? curl_easy_strerror(msg->data.result)
									: psprintf("HTTP %ld", status))));
				t->retries++;
				reset_attempt(t);
				schedule(handle, t,
						 paced(t->req, TimestampTzPlusMilliseconds(GetCurrentTimestamp(), delay_ms),
							   retry_after_ms));
				break;
			}
			t->done = true;
			t->result = msg->data.result;
			handle->in_flight--;
			finished++;
			break;
		}
	}
	return finished;
}

/* Hand to curl the transfers whose time has come; when the next is due, or 0. */
static TimestampTz
send_due(CfHttpHandle *handle)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz next = 0;

	for (int i = 0; i < handle->ntransfers; i++)
	{
		CfTransfer *t = handle->transfers[i];

		if (t->ticket == 0 || t->send_at == 0)
			continue;
		if (t->send_at <= now)
			schedule(handle, t, 0);
		else if (next == 0 || t->send_at < next)
			next = t->send_at;
	}
	return next;
}

/* The earliest of two due times, 0 meaning none. */
static TimestampTz
earliest(TimestampTz a, TimestampTz b)
{
	return a == 0 ? b : b == 0 ? a : Min(a, b);
}

/*
 * Let curl act on the sockets that are ready and on its timer, without
 * waiting; when the handle next has something due (a timer, a paced or
 * retried send), or 0.
 */
static TimestampTz
act(CfHttpHandle *handle)
{
	struct epoll_event events[64];
	int			nready;
	int			running;
	CURLMcode	mc = CURLM_OK;
	TimestampTz next_send = send_due(handle);

	nready = epoll_wait(handle->epoll_fd, events, lengthof(events), 0);
	if (nready < 0 && errno != EINTR)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not wait for HTTP sockets: %m")));
	for (int i = 0; i < nready && mc == CURLM_OK; i++)
	{
		int			fd = events[i].data.fd;
		int			mask = 0;

		if (fd == handle->alarm_fd)
		{
			uint64		expirations;

			/* only wakes a waiter up: what is due is checked below */
			if (read(fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
				elog(DEBUG1, "could not read the alarm of an HTTP handle: %m");
			handle->alarm_at = 0;
			continue;
		}
		if (events[i].events & EPOLLIN)
			mask |= CURL_CSELECT_IN;
		if (events[i].events & EPOLLOUT)
			mask |= CURL_CSELECT_OUT;
		if (events[i].events & (EPOLLERR | EPOLLHUP))
			mask |= CURL_CSELECT_ERR;
		mc = curl_multi_socket_action(handle->multi, fd, mask, &running);
	}
	/* curl may ask to be called again at once (a transfer just added) */
	for (int rounds = 0; mc == CURLM_OK && handle->curl_due != 0 &&
		 handle->curl_due <= GetCurrentTimestamp() && rounds < 16; rounds++)
	{
		handle->curl_due = 0;
		mc = curl_multi_socket_action(handle->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
	if (mc != CURLM_OK || handle->socket_failed)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not run HTTP transfer: %s",
						mc != CURLM_OK ? curl_multi_strerror(mc)
						: "a socket could not be watched")));
	collect_finished(handle);
	return earliest(handle->curl_due, next_send);
}

/* Milliseconds from now until "when" (0 if it has come), at most cap_ms. */
static int
ms_until(TimestampTz when, int cap_ms)
{
	TimestampTz now = GetCurrentTimestamp();

	if (when == 0)
		return cap_ms;
	if (when <= now)
		return 0;
	return (int) Min((int64) cap_ms, (when - now + 999) / 1000);
}

/*
 * Let curl work, then wait up to CF_POLL_INTERVAL_MS for the handle or the
 * latch; no wait when a transfer of the caller is done already.
 */
static void
drive(CfHttpHandle *handle, const uint64 *tickets, int ntickets)
{
	TimestampTz due = act(handle);
	int			timeout_ms;
	int			rc;

	if (cf_http_any_done(handle, tickets, ntickets))
		return;
	timeout_ms = ms_until(due, CF_POLL_INTERVAL_MS);
	if (timeout_ms > 0)
	{
		rc = WaitLatchOrSocket(MyLatch,
							   WL_LATCH_SET | WL_SOCKET_READABLE | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							   handle->epoll_fd, timeout_ms, cf_wait_event_request());
		if (rc & WL_LATCH_SET)
			ResetLatch(MyLatch);
	}
	act(handle);
}

/*
 * Whether one of these tickets is done: answered, failed, or abandoned (no
 * longer known), which the caller learns from cf_http_take.
 */
bool
cf_http_any_done(CfHttpHandle *handle, const uint64 *tickets, int ntickets)
{
	for (int i = 0; i < ntickets; i++)
	{
		CfTransfer *t = find_transfer(handle, tickets[i]);

		if (t == NULL || t->done)
			return true;
	}
	return false;
}

/*
 * Let curl make progress without waiting, for a caller that waits elsewhere
 * (an asynchronous Append).  On any error, every transfer is aborted.
 */
void
cf_http_poll(CfHttpHandle *handle)
{
	PG_TRY();
	{
		act(handle);
	}
	PG_CATCH();
	{
		cf_http_abort(handle, InvalidSubTransactionId);
		PG_RE_THROW();
	}
	PG_END_TRY();
}

/*
 * The descriptor that becomes readable when the handle has work: a socket
 * curl watches is ready, or the alarm rings, which is armed here for what
 * is due next, at once if one of the tickets is done, and within
 * CF_POLL_INTERVAL_MS in any case, so that a waiter checks for interrupts.
 */
int
cf_http_event_fd(CfHttpHandle *handle, const uint64 *tickets, int ntickets)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz ring = TimestampTzPlusMilliseconds(now, CF_POLL_INTERVAL_MS);
	TimestampTz due;

	cf_http_poll(handle);
	due = earliest(handle->curl_due, send_due(handle));
	if (cf_http_any_done(handle, tickets, ntickets))
		ring = now;
	else if (due != 0)
		ring = Min(ring, due);
	if (handle->alarm_at == 0 || ring < handle->alarm_at)
	{
		struct itimerspec when = {{0, 0}, {0, 0}};
		int64		wait_us = Max(1, ring - now);

		when.it_value.tv_sec = wait_us / USECS_PER_SEC;
		when.it_value.tv_nsec = (wait_us % USECS_PER_SEC) * 1000;
		if (timerfd_settime(handle->alarm_fd, 0, &when, NULL) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("could not set the alarm of an HTTP handle: %m")));
		handle->alarm_at = ring;
	}
	return handle->epoll_fd;
}

/*
 * Wait until one of the given requests is done; returns its ticket.  Only
 * the caller's own transfers count: other scans and updates of the
 * statement may have theirs on the same handle.  On any error, every
 * transfer of the handle is aborted.
 */
uint64
cf_http_wait_any(CfHttpHandle *handle, const uint64 *tickets, int ntickets)
{
	volatile uint64 found = 0;

	Assert(ntickets > 0);
	PG_TRY();
	{
		/* the other transfers go on even when the awaited one is done */
		act(handle);
		while (!cf_http_any_done(handle, tickets, ntickets))
		{
			drive(handle, tickets, ntickets);
			CHECK_FOR_INTERRUPTS();
		}
		for (int i = 0; i < ntickets && found == 0; i++)
		{
			CfTransfer *t = find_transfer(handle, tickets[i]);

			if (t == NULL || t->done)
				found = tickets[i];
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
 * Take the answer of a finished request and free its transfer.  Limits are
 * raised here; a request that got no answer is said in transfer_error, for
 * the caller to report, and one that was abandoned (aborted by an error
 * elsewhere, or cancelled) in "abandoned"; the status is the caller's to
 * judge.
 */
void
cf_http_take(CfHttpHandle *handle, uint64 ticket, CfHttpResponse *resp)
{
	CfTransfer *t = find_transfer(handle, ticket);
	const CfHttpRequest *req;
	CURLcode	result;
	char		errbuf[CURL_ERROR_SIZE];

	memset(resp, 0, sizeof(CfHttpResponse));
	if (t == NULL)
	{
		resp->abandoned = true;
		resp->body = palloc0(1);
		return;
	}
	Assert(t->done);
	req = t->req;
	result = t->result;
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
