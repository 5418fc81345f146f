/*-------------------------------------------------------------------------
 *
 * auth.c
 *		  The headers that authenticate a request, per method, and the IAM
 *		  login some methods need first: all without I/O, which is the
 *		  client's (client.c).
 *
 * Qoder takes a bearer token.  Huawei Cloud takes one of three, chosen by
 * the user mapping's options: a ready token (X-Auth-Token), an AK/SK pair
 * that signs every request (SDK-HMAC-SHA256), or an IAM user whose
 * password buys a token from IAM.  Such tokens are scoped: to the region's
 * project for regional services (CodeArts Deploy), to the account for
 * global ones (EPS); the connection keeps them per scope until shortly
 * before they expire.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <time.h>

#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "cloud_fdw.h"

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

/* A string member at a dotted path of a JSON object being built. */
static void
set_string(CfJson *object, const char *path, const char *value, MemoryContext cxt)
{
	cfj_set_path(object, path, cfj_new_string(value, strlen(value), cxt), cxt);
}

/*
 * The IAM password login for a scope: POST /v3/auth/tokens with the user,
 * the password and the scope; the body holds the password, so it is never
 * traced.
 */
void
cf_auth_iam_login(const CfCredentials *creds, const CfOptions *opts, CfScope scope,
				  CfLoginRequest *login)
{
	MemoryContext cxt = CurrentMemoryContext;
	CfJson	   *body = cfj_new_object(cxt);
	CfJson	   *methods = cfj_new_array(cxt);
	const char *domain_name = cf_credential(creds, "domain_name");
	const char *project = cf_credential(creds, "project");

	if (project == NULL)
		project = cf_provider_option(opts, "region");
	cfj_array_append(methods, cfj_new_string("password", 8, cxt));
	cfj_set_path(body, "auth.identity.methods", methods, cxt);
	set_string(body, "auth.identity.password.user.name", cf_credential(creds, "user"), cxt);
	set_string(body, "auth.identity.password.user.password", cf_credential(creds, "password"), cxt);
	set_string(body, "auth.identity.password.user.domain.name", domain_name, cxt);
	if (scope == CF_SCOPE_DOMAIN)
		set_string(body, "auth.scope.domain.name", domain_name, cxt);
	else
	{
		if (project == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("an IAM token for %s needs a project", scope_name(scope)),
					 errhint("Set the server option \"region\" or the user mapping option \"project\".")));
		set_string(body, "auth.scope.project.name", project, cxt);
	}
	login->endpoint = cf_provider_option(opts, "iam_endpoint");
	login->path = "/v3/auth/tokens?nocatalog=true";
	login->body = cfj_serialize(body);
}

/*
 * The token of an IAM login's answer (header X-Subject-Token) and when it
 * expires (token.expires_at, checked to be RFC 3339 before timestamptz_in
 * sees it, so that IAM sending something else is reported as IAM's fault).
 */
char *
cf_auth_iam_take(const CfHttpResponse *resp, TimestampTz *expires)
{
	const char *token = cf_http_header(resp, "X-Subject-Token");
	CfJson	   *answer;
	CfJson	   *expires_at;
	size_t		len;

	if (token == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("IAM answered without an X-Subject-Token header")));
	answer = cfj_parse(resp->body, resp->body_len, CurrentMemoryContext);
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
	*expires = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
													   CStringGetDatum(cfj_string(expires_at, &len)),
													   ObjectIdGetDatum(InvalidOid),
													   Int32GetDatum(-1)));
	return pstrdup(token);
}

/* X-Security-Token of temporary credentials, after the headers given. */
static List *
with_security_token(List *headers, const CfCredentials *creds)
{
	const char *security_token = cf_credential(creds, "security_token");

	if (security_token != NULL)
		headers = lappend(headers, psprintf("X-Security-Token: %s", security_token));
	return headers;
}

/* Qoder: Authorization: Bearer <PAT>. */
List *
cf_auth_bearer(const CfAuthRequest *req)
{
	return list_make1(psprintf("Authorization: Bearer %s", cf_credential(req->creds, "token")));
}

/* Huawei: a ready token. */
List *
cf_auth_huawei_token(const CfAuthRequest *req)
{
	return with_security_token(list_make1(psprintf("X-Auth-Token: %s",
												   cf_credential(req->creds, "auth_token"))),
							   req->creds);
}

/* Huawei: the token an IAM login bought. */
List *
cf_auth_huawei_iam(const CfAuthRequest *req)
{
	return list_make1(psprintf("X-Auth-Token: %s", req->token));
}

/* The header naming the scope of an AK/SK request: X-Project-Id or X-Domain-Id. */
static char *
scope_header(const CfAuthRequest *req)
{
	bool		project = (req->scope == CF_SCOPE_PROJECT);
	const char *option = project ? "iam_project_id" : "domain_id";
	const char *value = cf_credential(req->creds, option);

	if (value == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("AK/SK requests to resource \"%s\" need the %s",
						req->opts->resource->name, project ? "IAM project id" : "account id"),
				 errhint("Set option \"%s\" (%s) on the server or the user mapping.", option,
						 project ? "the id of the region's IAM project" : "the account's id")));
	return psprintf("%s: %s", project ? "X-Project-Id" : "X-Domain-Id", value);
}

/* Huawei: every request signed with the AK/SK pair. */
List *
cf_auth_huawei_signed(const CfAuthRequest *req)
{
	List	   *headers = NIL;
	char		date[32];
	time_t		now = time(NULL);
	struct tm	utc;

	gmtime_r(&now, &utc);
	strftime(date, sizeof(date), "%Y%m%dT%H%M%SZ", &utc);
	headers = lappend(headers, psprintf("Host: %s", cf_url_authority(req->url)));
	headers = lappend(headers, psprintf("X-Sdk-Date: %s", date));
	/* the client sends this Content-Type: it is signed as sent */
	if (req->body != NULL)
		headers = lappend(headers, "Content-Type: " CF_JSON_CONTENT_TYPE);
	if (req->scope != CF_SCOPE_NONE)
		headers = lappend(headers, scope_header(req));
	headers = with_security_token(headers, req->creds);
	return lappend(headers,
				   psprintf("Authorization: %s",
							cf_huawei_authorization(req->method, req->url, headers, req->body,
													req->body ? strlen(req->body) : 0,
													cf_credential(req->creds, "access_key"),
													cf_credential(req->creds, "secret_key"))));
}

/* The cached token of a scope, or NULL. */
const char *
cf_token_get(CfTokenCache *cache, CfScope scope)
{
	return cache->tokens[scope];
}

/* Remember a scope's token (NULL: forget it); kept for the backend's life. */
void
cf_token_keep(CfTokenCache *cache, CfScope scope, const char *token, TimestampTz expires)
{
	if (cache->tokens[scope] != NULL)
		pfree(cache->tokens[scope]);
	cache->tokens[scope] = token ? MemoryContextStrdup(TopMemoryContext, token) : NULL;
	cache->expires[scope] = expires;
}

void
cf_token_forget_all(CfTokenCache *cache)
{
	for (int scope = 0; scope < CF_NSCOPES; scope++)
		cf_token_keep(cache, scope, NULL, 0);
}
