/*-------------------------------------------------------------------------
 *
 * error.c
 *		  The one place where remote failures become PostgreSQL errors.
 *
 * Cloud APIs wrap their errors differently; each provider declares where
 * its code and message sit (CfErrorEnvelope, registry.c).  We look for them
 * in the nested object first, then at the top level, and fall back to the
 * start of the raw body (gateways answer with HTML or nothing at all).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>

#include "catalog/namespace.h"
#include "mb/pg_wchar.h"
#include "utils/memutils.h"

#include "cloud_fdw.h"

/* How much of a body that is not a JSON error envelope goes into DETAIL. */
#define RAW_BODY_EXCERPT 200

typedef struct CfRemoteError
{
	const char *code;			/* API's error type or code, or NULL */
	const char *message;		/* API's message, or an excerpt of the body */
	const char *request_id;
	bool		from_api;		/* the body is the API's own error envelope */
} CfRemoteError;

/*
 * Text the API sent (UTF-8) as text of the database encoding, for messages
 * and the trace: characters the database encoding lacks become \uXXXX, and
 * bytes that are not UTF-8 \xXX, so that showing a request never fails
 * where sending it would succeed.
 */
char *
cf_utf8_to_display(const char *utf8, size_t len)
{
	int			encoding = GetDatabaseEncoding();
	Oid			proc = InvalidOid;
	StringInfoData buf;
	const unsigned char *p = (const unsigned char *) utf8;
	const unsigned char *end = p + len;

	if (encoding != PG_UTF8 && encoding != PG_SQL_ASCII)
		proc = FindDefaultConversionProc(PG_UTF8, encoding);
	initStringInfo(&buf);
	while (p < end)
	{
		int			clen = pg_utf_mblen(p);
		unsigned char converted[MAX_CONVERSION_GROWTH * 4 + 1];

		if (*p < 0x80 || encoding == PG_SQL_ASCII)
		{
			appendStringInfoChar(&buf, (char) *p++);
			continue;
		}
		if (clen > end - p || !pg_utf8_islegal(p, clen))
		{
			appendStringInfo(&buf, "\\x%02X", *p++);
			continue;
		}
		if (encoding == PG_UTF8)
			appendBinaryStringInfo(&buf, (const char *) p, clen);
		else if (OidIsValid(proc) &&
				 pg_do_encoding_conversion_buf(proc, PG_UTF8, encoding, (unsigned char *) p,
											   clen, converted, sizeof(converted), true) == clen)
			appendStringInfoString(&buf, (char *) converted);
		else
			appendStringInfo(&buf, "\\u%04X", (unsigned int) utf8_to_unicode(p));
		p += clen;
	}
	return buf.data;
}

/* A member as text: strings as they are, numbers (IAM's codes) serialized. */
static const char *
member_text(const CfJson *object, const char *const *keys)
{
	for (int i = 0; keys[i] != NULL; i++)
	{
		CfJson	   *value = cfj_get(object, keys[i]);
		size_t		len;

		if (cfj_type(value) == CFJ_STRING)
		{
			const char *text = cfj_string(value, &len);

			return cf_utf8_to_display(text, len);
		}
		if (cfj_type(value) == CFJ_NUMBER)
			return cfj_serialize(value);
	}
	return NULL;
}

/* A printable, bounded excerpt of a body, in the database encoding. */
static char *
body_excerpt(const char *body, size_t len)
{
	size_t		cut = Min(len, RAW_BODY_EXCERPT);
	char	   *text;

	/* do not cut a UTF-8 character in two */
	while (cut < len && cut > 0 && ((unsigned char) body[cut] & 0xC0) == 0x80)
		cut--;
	text = cf_utf8_to_display(body, cut);
	for (char *p = text; *p; p++)
		if ((unsigned char) *p < ' ')
			*p = ' ';
	return len > cut ? psprintf("%s...", text) : text;
}

static void
parse_remote_error(const CfErrorEnvelope *envelope, const CfHttpResponse *resp,
				   CfRemoteError *err)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
											  "cloud_fdw error body",
											  ALLOCSET_SMALL_SIZES);
	CfJson	   *doc = cfj_try_parse(resp->body, resp->body_len, cxt);

	memset(err, 0, sizeof(CfRemoteError));
	err->request_id = cf_http_header(resp, "x-request-id");
	if (cfj_type(doc) == CFJ_OBJECT)
	{
		CfJson	   *nested = envelope->nested ? cfj_get(doc, envelope->nested) : NULL;
		const CfJson *holder = cfj_type(nested) == CFJ_OBJECT ? nested : doc;

		err->code = member_text(holder, envelope->code_keys);
		err->message = member_text(holder, envelope->message_keys);
		if (holder != doc && err->code == NULL && err->message == NULL)
		{
			err->code = member_text(doc, envelope->code_keys);
			err->message = member_text(doc, envelope->message_keys);
		}
		if (err->request_id == NULL && envelope->request_id_key != NULL)
			err->request_id = member_text(doc, (const char *[]) {envelope->request_id_key, NULL});
		err->from_api = (err->code != NULL || err->message != NULL);
	}
	/* copy out before the document goes away */
	err->code = err->code ? pstrdup(err->code) : NULL;
	err->message = err->message ? pstrdup(err->message) : NULL;
	err->request_id = err->request_id ? pstrdup(err->request_id) : NULL;
	MemoryContextDelete(cxt);

	if (err->code == NULL && err->message == NULL)
		err->message = resp->body_len > 0
			? body_excerpt(resp->body, resp->body_len)
			: "(empty response body)";
}

typedef struct CfOtherMembers
{
	const CfErrorEnvelope *envelope;
	StringInfo	buf;
} CfOtherMembers;

static bool
is_key_of(const char *key, const char *const *keys)
{
	for (int i = 0; keys[i] != NULL; i++)
		if (strcmp(keys[i], key) == 0)
			return true;
	return false;
}

/* "name value" of a non-empty string member that is neither code nor message. */
static void
append_other_member(const char *key, CfJson *value, void *arg)
{
	CfOtherMembers *others = (CfOtherMembers *) arg;
	size_t		len;

	if (cfj_type(value) != CFJ_STRING || cfj_string(value, &len)[0] == '\0' ||
		is_key_of(key, others->envelope->code_keys) ||
		is_key_of(key, others->envelope->message_keys))
		return;
	appendStringInfo(others->buf, "%s%s %s", others->buf->len > 0 ? ", " : "", key,
					 cf_utf8_to_display(cfj_string(value, &len), len));
}

/*
 * One failure a successful answer reports inside (EPS's errors[]): its code
 * and message where the envelope says, then its other string members, as
 * "EPS.0019: timed out (project_id e1eb..., resource_type rds)".
 */
char *
cf_describe_error(const CfErrorEnvelope *envelope, const CfJson *error)
{
	const char *code = member_text(error, envelope->code_keys);
	const char *message = member_text(error, envelope->message_keys);
	StringInfoData buf;
	StringInfoData other_text;
	CfOtherMembers others = {envelope, &other_text};

	initStringInfo(&buf);
	initStringInfo(&other_text);
	appendStringInfo(&buf, "%s%s%s", code ? code : "", code && message ? ": " : "",
					 message ? message : "");
	cfj_object_foreach(error, append_other_member, &others);
	if (other_text.len > 0)
		appendStringInfo(&buf, "%s(%s)", buf.len > 0 ? " " : "", other_text.data);
	return buf.len > 0 ? buf.data : cfj_serialize(error);
}

static int
sqlstate_for_status(long status)
{
	switch (status)
	{
		case 400:
		case 422:
			return ERRCODE_INVALID_PARAMETER_VALUE;
		case 401:
			return ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION;
		case 403:
			return ERRCODE_INSUFFICIENT_PRIVILEGE;
		case 404:
		case 410:
			return ERRCODE_UNDEFINED_OBJECT;
		case 409:
			return ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE;
		case 413:
			return ERRCODE_PROGRAM_LIMIT_EXCEEDED;
		case 408:
		case 504:
			return ERRCODE_CONNECTION_FAILURE;
		case 429:
		case 503:
			return ERRCODE_INSUFFICIENT_RESOURCES;
	}
	return ERRCODE_FDW_ERROR;
}

/*
 * Whether an error answer is the API's own error envelope (a JSON object
 * with a code or message), rather than a gateway's page or an empty body:
 * a 404 of the API means "no such thing", a bare 404 a wrong endpoint.
 */
bool
cf_is_api_error(const CfErrorEnvelope *envelope, const CfHttpResponse *resp)
{
	CfRemoteError err;

	parse_remote_error(envelope, resp, &err);
	return err.from_api;
}

static const char *
hint_for_status(long status, bool from_api)
{
	if (status >= 300 && status <= 399)
		return "cloud_fdw never follows redirects: set the server option \"endpoint\" to the URL the API answers at.";
	if (status == 404 && !from_api)
		return "The answer is not the cloud API's: check the server option \"endpoint\".";
	switch (status)
	{
		case 401:
			return "Check the credentials in the user mapping.";
		case 403:
			return "The credentials in the user mapping lack permission for this request.";
		case 429:
		case 503:
			return "The cloud API is throttling requests or unavailable; try again later.";
	}
	return NULL;
}

void
cf_report_http_error(const CfErrorEnvelope *envelope, const CfHttpResponse *resp)
{
	CfRemoteError err;
	const char *hint;
	char	   *detail;

	parse_remote_error(envelope, resp, &err);
	hint = hint_for_status(resp->status, err.from_api);
	if (err.code != NULL && err.message != NULL)
		detail = psprintf("%s: %s", err.code, err.message);
	else
		detail = pstrdup(err.code ? err.code : err.message);
	if (err.request_id != NULL)
		detail = psprintf("%s (request id %s)", detail, err.request_id);

	ereport(ERROR,
			(errcode(sqlstate_for_status(resp->status)),
			 errmsg("cloud API request failed with HTTP status %ld", resp->status),
			 errdetail("%s", detail),
			 hint ? errhint("%s", hint) : 0));
}

void
cf_report_transfer_error(int curl_code, const char *curl_message)
{
	switch ((CURLcode) curl_code)
	{
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_RESOLVE_PROXY:
		case CURLE_COULDNT_CONNECT:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
					 errmsg("could not connect to the cloud API"),
					 errdetail("%s", curl_message)));
			break;
		case CURLE_OPERATION_TIMEDOUT:
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("cloud API request timed out"),
					 errdetail("%s", curl_message),
					 errhint("The server options \"connect_timeout\" and \"request_timeout\" set the limits.")));
			break;
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CERTPROBLEM:
		case CURLE_SSL_CACERT_BADFILE:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
					 errmsg("could not establish a secure connection to the cloud API"),
					 errdetail("%s", curl_message)));
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("could not complete cloud API request"),
					 errdetail("%s", curl_message)));
			break;
	}
	pg_unreachable();
}

static void
request_context(void *arg)
{
	const CfRequest *req = (const CfRequest *) arg;

	errcontext("remote request %s %s", req->method, req->path);
}

/* Add a CONTEXT line to every error until the caller pops the callback. */
void
cf_push_error_context(ErrorContextCallback *callback, void (*fn) (void *), void *arg)
{
	callback->callback = fn;
	callback->arg = arg;
	callback->previous = error_context_stack;
	error_context_stack = callback;
}

/* Name the request in the CONTEXT of any error until the caller pops it. */
void
cf_push_request_context(ErrorContextCallback *callback, const CfRequest *req)
{
	cf_push_error_context(callback, request_context, (void *) req);
}
