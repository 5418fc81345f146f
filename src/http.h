/*-------------------------------------------------------------------------
 *
 * http.h
 *		  Transport: HTTP requests with libcurl inside a backend.
 *
 * Method, URL, headers, body and limits in; status, headers and body out.
 * The transport knows no provider, no credential and no token: the client
 * (client.c) prepares every request and judges every answer.
 *
 * Include postgres.h first.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CLOUD_FDW_HTTP_H
#define CLOUD_FDW_HTTP_H

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"
#include "utils/palloc.h"

typedef struct CfHttpHandle CfHttpHandle;

/*
 * Asked before every attempt of a request when it may go: retry_after_ms
 * is the pause the server asked for before this attempt, or -1.  No
 * ereport: it runs between curl calls.
 */
typedef TimestampTz (*CfHttpPacer) (void *arg, long retry_after_ms);

typedef struct CfHttpRequest
{
	const char *method;
	const char *url;
	List	   *headers;		/* "Name: value" lines */
	const char *body;			/* NULL: no body */
	const char *label;			/* how traces name it: method and path, no secret */
	bool		resendable;		/* safe to send again after a failure (reads, logins) */
	bool		writes;			/* may change remote state */
	int			connect_timeout_ms;
	int			request_timeout_ms;
	size_t		max_response_size;
	int			max_retries;
	const char *ca_file;		/* NULL: the system's CA certificates */
	CfHttpPacer pace;			/* NULL: every attempt goes at once */
	void	   *pace_arg;
} CfHttpRequest;

typedef struct CfHttpResponse
{
	long		status;
	char	   *body;			/* NUL-terminated, palloc'd */
	size_t		body_len;
	const char *headers;		/* "name: value\n" lines as received, or NULL */
	int			retries;		/* attempts before the one answered */
	int			transfer_error; /* a CURLcode: no answer came; 0: one did */
	const char *transfer_message;	/* libcurl's words for it */
	bool		abandoned;		/* aborted or cancelled before its answer */
} CfHttpResponse;

#define CF_JSON_CONTENT_TYPE "application/json"

/* Transfers one handle may have on their way, over all its scans and updates. */
#define CF_MAX_TRANSFERS 1024

extern void cf_http_init(void);
extern CfHttpHandle *cf_http_open(void);
extern void cf_http_close(CfHttpHandle *handle);
extern void cf_http_abort(CfHttpHandle *handle, SubTransactionId subid);
extern uint64 cf_http_id(CfHttpHandle *handle);
extern void cf_http_cancel(CfHttpHandle *handle, uint64 ticket);
extern uint64 cf_http_start(CfHttpHandle *handle, const CfHttpRequest *req, MemoryContext cxt);
extern bool cf_http_any_done(CfHttpHandle *handle, const uint64 *tickets, int ntickets);
extern uint64 cf_http_wait_any(CfHttpHandle *handle, const uint64 *tickets, int ntickets);
extern void cf_http_poll(CfHttpHandle *handle);
extern int	cf_http_event_fd(CfHttpHandle *handle, const uint64 *tickets, int ntickets);
extern void cf_http_take(CfHttpHandle *handle, uint64 ticket, CfHttpResponse *resp);
extern bool cf_http_writes_in_flight(CfHttpHandle *handle);
extern void cf_http_counters(CfHttpHandle *handle, int64 *requests, int64 *connects);
extern const char *cf_http_header(const CfHttpResponse *resp, const char *name);

#endif							/* CLOUD_FDW_HTTP_H */
