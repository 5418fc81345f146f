/*-------------------------------------------------------------------------
 *
 * auth.c
 *		  The headers that authenticate a request, per provider style.
 *
 * Qoder takes a bearer token.  Huawei Cloud takes one of three, chosen by
 * the user mapping's options: a ready token (X-Auth-Token), an AK/SK pair
 * that signs every request (SDK-HMAC-SHA256), or an IAM user whose
 * password buys a token from IAM.  Such tokens are scoped: to the region's
 * project for regional services (CodeArts Deploy), to the account for
 * global ones (EPS); they are cached per user mapping and scope until
 * shortly before they expire.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <time.h>

#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "cloud_fdw.h"

/* A cached IAM token is renewed this long before it expires. */
#define TOKEN_RENEW_MARGIN_SECS (5 * 60)

/* "https://host:port/path" -> "host:port", as the Host header sends it. */
static char *
url_authority(const char *url)
{
	const char *start = strstr(url, "://");

	start = start ? start + 3 : url;
	return pnstrdup(start, strcspn(start, "/?#"));
}

/* "https://host/a/b?x=1" -> path "/a/b" and query "x=1" (or NULL). */
static void
url_path_query(const char *url, char **path, char **query)
{
	const char *start = strstr(url, "://");
	const char *slash = strchr(start ? start + 3 : url, '/');
	char	   *q;

	*path = pstrdup(slash ? slash : "/");
	q = strchr(*path, '?');
	*query = NULL;
	if (q != NULL)
	{
		*q = '\0';
		*query = q + 1;
	}
}

/*
 * Whether text is an RFC 3339 timestamp with a zone, "yyyy-mm-ddThh:mm:ss
 * [.fraction](Z|+hh:mm)", checked before timestamptz_in sees it, so that
 * IAM sending something else is reported as IAM's fault.
 */
static bool
is_rfc3339(const char *text)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	const char *p = text;

	for (const char *s = shape; *s; s++, p++)
		if (*s == 'd' ? !isdigit((unsigned char) *p) : (*s == 'T' ? (*p != 'T' && *p != 't') : *p != *s))
			return false;
	if (*p == '.')
		for (p++; isdigit((unsigned char) *p); p++)
			;
	if (*p == 'Z' || *p == 'z')
		return p[1] == '\0';
	return (*p == '+' || *p == '-') && isdigit((unsigned char) p[1]) && isdigit((unsigned char) p[2]) &&
		p[3] == ':' && isdigit((unsigned char) p[4]) && isdigit((unsigned char) p[5]) && p[6] == '\0';
}

static const char *
scope_name(CfScope scope)
{
	return scope == CF_SCOPE_DOMAIN ? "the account (domain)" : "the region's project";
}

/* The IAM token request body; it holds the password, so it is never traced. */
static char *
token_request_body(const CfCredentials *creds, const CfOptions *opts, CfScope scope,
				   MemoryContext cxt)
{
	CfJson	   *body = cfj_new_object(cxt);
	CfJson	   *methods = cfj_new_array(cxt);
	const char *project = creds->project ? creds->project : opts->region;

	cfj_array_append(methods, cfj_new_string("password", 8, cxt));
	cfj_set_path(body, "auth.identity.methods", methods, cxt);
	cfj_set_path(body, "auth.identity.password.user.name",
				 cfj_new_string(creds->user, strlen(creds->user), cxt), cxt);
	cfj_set_path(body, "auth.identity.password.user.password",
				 cfj_new_string(creds->password, strlen(creds->password), cxt), cxt);
	cfj_set_path(body, "auth.identity.password.user.domain.name",
				 cfj_new_string(creds->domain_name, strlen(creds->domain_name), cxt), cxt);
	if (scope == CF_SCOPE_DOMAIN)
		cfj_set_path(body, "auth.scope.domain.name",
					 cfj_new_string(creds->domain_name, strlen(creds->domain_name), cxt), cxt);
	else
	{
		if (project == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("an IAM token for %s needs a project", scope_name(scope)),
					 errhint("Set the server option \"region\" or the user mapping option \"project\".")));
		cfj_set_path(body, "auth.scope.project.name",
					 cfj_new_string(project, strlen(project), cxt), cxt);
	}
	return cfj_serialize(body);
}

/* Log in to IAM with the user mapping's password; cache the token. */
static const char *
fetch_iam_token(CfConnection *conn, const CfHttpRequest *req, CfScope scope)
{
	MemoryContext cxt = CurrentMemoryContext;
	ErrorContextCallback errcallback;
	CfHttpRequest login = {
		.method = "POST",
		.endpoint = req->opts->iam_endpoint,
		.path = "/v3/auth/tokens?nocatalog=true",
		.creds = req->creds,
		.opts = req->opts,
		.anonymous = true,
		.idempotent = true,		/* a second login only buys a second token */
		.secret_body = true,
	};
	CfHttpResponse resp;
	CfJson	   *answer;
	CfJson	   *expires_at;
	size_t		len;
	TimestampTz expires;

	login.body = token_request_body(req->creds, req->opts, scope, cxt);
	cf_push_request_context(&errcallback, &login);
	cf_send_request(conn, &login, &resp);
	if (resp.status < 200 || resp.status > 299)
		cf_report_http_error(&login, &resp);
	if (resp.subject_token == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("IAM answered without an X-Subject-Token header")));
	answer = cfj_parse(resp.body, resp.body_len, cxt);
	expires_at = cfj_get(answer, "token.expires_at");
	if (cfj_type(expires_at) != CFJ_STRING ||
		!is_rfc3339(cfj_string(expires_at, &len)))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("IAM answered without a readable token expiry"),
				 errdetail("token.expires_at is %s; an RFC 3339 timestamp such as \"2026-05-18T15:28:08.093000Z\" was expected.",
						   cfj_type(expires_at) == CFJ_STRING
						   ? psprintf("\"%s\"", cf_utf8_to_display(cfj_string(expires_at, &len), len))
						   : psprintf("a JSON %s", cfj_type_name(cfj_type(expires_at))))));
	expires = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
													  CStringGetDatum(cfj_string(expires_at, &len)),
													  ObjectIdGetDatum(InvalidOid),
													  Int32GetDatum(-1)));
	error_context_stack = errcallback.previous;

	cf_connection_set_token(conn, scope, resp.subject_token, expires);
	return resp.subject_token;
}

/* A token for the scope: cached while it has a while to live, else fetched. */
static const char *
iam_token(CfConnection *conn, const CfHttpRequest *req, CfScope scope, bool *cached)
{
	TimestampTz expires;
	const char *token = cf_connection_get_token(conn, scope, &expires);

	*cached = false;
	if (token != NULL &&
		GetCurrentTimestamp() < TimestampTzPlusMilliseconds(expires, -TOKEN_RENEW_MARGIN_SECS * 1000))
	{
		*cached = true;
		return token;
	}
	return fetch_iam_token(conn, req, scope);
}

static List *
signed_headers(const CfHttpRequest *req, const char *url, CfScope scope)
{
	const CfCredentials *creds = req->creds;
	List	   *headers = NIL;
	char		date[32];
	time_t		now = time(NULL);
	struct tm	utc;
	char	   *path;
	char	   *query;

	gmtime_r(&now, &utc);
	strftime(date, sizeof(date), "%Y%m%dT%H%M%SZ", &utc);
	headers = lappend(headers, psprintf("Host: %s", url_authority(url)));
	headers = lappend(headers, psprintf("X-Sdk-Date: %s", date));
	if (req->body != NULL)
		headers = lappend(headers, "Content-Type: " CF_JSON_CONTENT_TYPE);
	if (scope == CF_SCOPE_PROJECT)
	{
		if (creds->iam_project_id == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("AK/SK requests to resource \"%s\" need the IAM project id",
							req->opts->resource->name),
					 errhint("Set option \"iam_project_id\" (the id of the region's IAM project) on the server or the user mapping.")));
		headers = lappend(headers, psprintf("X-Project-Id: %s", creds->iam_project_id));
	}
	else if (scope == CF_SCOPE_DOMAIN)
	{
		if (creds->domain_id == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("AK/SK requests to resource \"%s\" need the account id",
							req->opts->resource->name),
					 errhint("Set option \"domain_id\" (the account's id) on the server or the user mapping.")));
		headers = lappend(headers, psprintf("X-Domain-Id: %s", creds->domain_id));
	}
	if (creds->security_token != NULL)
		headers = lappend(headers, psprintf("X-Security-Token: %s", creds->security_token));

	url_path_query(url, &path, &query);
	headers = lappend(headers,
					  psprintf("Authorization: %s",
							   cf_huawei_authorization(req->method, path, query, headers,
													   req->body, req->body ? strlen(req->body) : 0,
													   creds->access_key, creds->secret_key)));
	return headers;
}

/*
 * The "Name: value" header lines that authenticate req, sent to url.
 * *cached_token says whether they carry a cached IAM token, which a 401
 * should replace once.
 */
List *
cf_auth_headers(CfConnection *conn, const CfHttpRequest *req, const char *url,
				bool *cached_token)
{
	const CfCredentials *creds = req->creds;
	CfScope		scope = req->opts->resource->scope;

	*cached_token = false;
	if (req->anonymous)
		return NIL;

	if (req->opts->provider->auth == CF_AUTH_BEARER)
		return creds->token ? list_make1(psprintf("Authorization: Bearer %s", creds->token)) : NIL;

	if (creds->access_key != NULL)
		return signed_headers(req, url, scope);
	if (creds->auth_token != NULL)
	{
		List	   *headers = list_make1(psprintf("X-Auth-Token: %s", creds->auth_token));

		if (creds->security_token != NULL)
			headers = lappend(headers, psprintf("X-Security-Token: %s", creds->security_token));
		return headers;
	}
	if (creds->user != NULL)
		return list_make1(psprintf("X-Auth-Token: %s",
								   iam_token(conn, req, scope, cached_token)));
	return NIL;
}

/* A cached token was refused: forget it, so the next headers log in anew. */
void
cf_auth_forget_token(CfConnection *conn, const CfHttpRequest *req)
{
	cf_connection_set_token(conn, req->opts->resource->scope, NULL, 0);
}
