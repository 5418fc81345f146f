/*-------------------------------------------------------------------------
 *
 * huawei_sign.c
 *		  Huawei Cloud API request signing, SDK-HMAC-SHA256 (AK/SK).
 *
 * The signature covers a canonical form of the request: method, the path
 * with each segment percent-encoded and a trailing "/", the query sorted by
 * name, the signed headers (lower-case names, trimmed values, sorted), and
 * the SHA-256 of the body.  The secret key is the HMAC key as it is; there
 * is no key derivation.  The string signed is "SDK-HMAC-SHA256\n" + the
 * X-Sdk-Date value + "\n" + hex(SHA-256(canonical request)).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/cryptohash.h"
#include "common/hmac.h"
#include "common/sha2.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/formatting.h"

#include "cloud_fdw.h"

#define SIGN_ALGORITHM "SDK-HMAC-SHA256"

typedef struct SignedHeader
{
	char	   *name;			/* lower case */
	const char *value;			/* trimmed */
	int			value_len;
} SignedHeader;

/* Lower-case hex of a digest, NUL-terminated. */
static void
digest_hex(const uint8 *digest, int len, char *out)
{
	out[hex_encode((const char *) digest, len, out)] = '\0';
}

/* The SHA-256 digest of data (PG_SHA256_DIGEST_LENGTH bytes). */
void
cf_sha256(const char *data, size_t len, uint8 *digest)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);

	if (ctx == NULL || pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) data, len) < 0 ||
		pg_cryptohash_final(ctx, digest, PG_SHA256_DIGEST_LENGTH) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not compute SHA-256: %s", pg_cryptohash_error(ctx))));
	pg_cryptohash_free(ctx);
}

static void
sha256_hex(const char *data, size_t len, char *out)
{
	uint8		digest[PG_SHA256_DIGEST_LENGTH];

	cf_sha256(data, len, digest);
	digest_hex(digest, sizeof(digest), out);
}

static void
hmac_sha256_hex(const char *key, const char *data, char *out)
{
	pg_hmac_ctx *ctx = pg_hmac_create(PG_SHA256);
	uint8		digest[PG_SHA256_DIGEST_LENGTH];

	if (ctx == NULL || pg_hmac_init(ctx, (const uint8 *) key, strlen(key)) < 0 ||
		pg_hmac_update(ctx, (const uint8 *) data, strlen(data)) < 0 ||
		pg_hmac_final(ctx, digest, sizeof(digest)) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not compute HMAC-SHA256: %s", pg_hmac_error(ctx))));
	pg_hmac_free(ctx);
	digest_hex(digest, sizeof(digest), out);
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Append text percent-decoded and then encoded the signer's way.  Decoding
 * first makes the result independent of how the request spelled it.
 */
static void
append_canonical(StringInfo buf, const char *text, int len)
{
	char	   *decoded = palloc(len + 1);
	int			n = 0;

	for (int i = 0; i < len; i++)
	{
		if (text[i] == '%' && i + 2 < len &&
			hex_value(text[i + 1]) >= 0 && hex_value(text[i + 2]) >= 0)
		{
			decoded[n++] = (char) (hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
			i += 2;
		}
		else
			decoded[n++] = text[i];
	}
	cf_append_encoded(buf, decoded, n);
	pfree(decoded);
}

/* "/a/b c" -> "/a/b%20c/": segments encoded, always ending in "/". */
static void
append_canonical_uri(StringInfo buf, const char *path)
{
	const char *segment = path;

	if (*segment == '/')
		segment++;
	appendStringInfoChar(buf, '/');
	while (*segment)
	{
		const char *slash = strchr(segment, '/');
		int			len = slash ? (int) (slash - segment) : (int) strlen(segment);

		append_canonical(buf, segment, len);
		appendStringInfoChar(buf, '/');
		if (slash == NULL)
			break;
		segment = slash + 1;
	}
}

typedef struct QueryParam
{
	char	   *name;
	char	   *value;
} QueryParam;

static int
compare_params(const void *a, const void *b)
{
	const QueryParam *pa = (const QueryParam *) a;
	const QueryParam *pb = (const QueryParam *) b;
	int			cmp = strcmp(pa->name, pb->name);

	return cmp != 0 ? cmp : strcmp(pa->value, pb->value);
}

/* "b=2&a=1" -> "a=1&b=2", names and values canonically encoded. */
static void
append_canonical_query(StringInfo buf, const char *query)
{
	QueryParam *params;
	int			n = 0;
	int			max = 1;
	const char *p;

	if (query == NULL || *query == '\0')
		return;
	for (p = query; *p; p++)
		max += (*p == '&');
	params = palloc(sizeof(QueryParam) * max);
	p = query;
	while (*p)
	{
		const char *amp = strchr(p, '&');
		int			len = amp ? (int) (amp - p) : (int) strlen(p);
		const char *eq = memchr(p, '=', len);
		StringInfoData name;
		StringInfoData value;

		initStringInfo(&name);
		initStringInfo(&value);
		if (len > 0)
		{
			append_canonical(&name, p, eq ? (int) (eq - p) : len);
			if (eq)
				append_canonical(&value, eq + 1, len - (int) (eq - p) - 1);
			params[n].name = name.data;
			params[n++].value = value.data;
		}
		if (amp == NULL)
			break;
		p = amp + 1;
	}
	qsort(params, n, sizeof(QueryParam), compare_params);
	for (int i = 0; i < n; i++)
		appendStringInfo(buf, "%s%s=%s", i > 0 ? "&" : "", params[i].name, params[i].value);
}

static int
compare_headers(const void *a, const void *b)
{
	return strcmp(((const SignedHeader *) a)->name, ((const SignedHeader *) b)->name);
}

/*
 * The Authorization header value for a request to url.  headers are
 * "Name: value" lines, all of which are signed; one must be X-Sdk-Date.
 */
char *
cf_huawei_authorization(const char *method, const char *url, List *headers,
						const char *body, size_t body_len,
						const char *access_key, const char *secret_key)
{
	int			n = list_length(headers);
	SignedHeader *signed_headers = palloc(sizeof(SignedHeader) * Max(n, 1));
	const char *sdk_date = NULL;
	StringInfoData canonical;
	StringInfoData names;
	StringInfoData to_sign;
	char		hash[PG_SHA256_DIGEST_LENGTH * 2 + 1];
	char		signature[PG_SHA256_DIGEST_LENGTH * 2 + 1];
	ListCell   *lc;
	int			i = 0;
	char	   *path;
	char	   *query;

	cf_url_split(url, &path, &query);
	foreach(lc, headers)
	{
		const char *line = (const char *) lfirst(lc);
		const char *colon = strchr(line, ':');
		const char *value;
		int			len;

		if (colon == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid header line \"%s\"", line),
					 errhint("Give each signed header as \"Name: value\".")));
		signed_headers[i].name = asc_tolower(line, colon - line);
		value = colon + 1;
		while (*value == ' ' || *value == '\t')
			value++;
		len = strlen(value);
		while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
			len--;
		signed_headers[i].value = value;
		signed_headers[i].value_len = len;
		if (strcmp(signed_headers[i].name, "x-sdk-date") == 0)
			sdk_date = pnstrdup(value, len);
		i++;
	}
	if (sdk_date == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a signed request needs an X-Sdk-Date header")));
	qsort(signed_headers, n, sizeof(SignedHeader), compare_headers);

	initStringInfo(&canonical);
	appendStringInfo(&canonical, "%s\n", method);
	append_canonical_uri(&canonical, path);
	appendStringInfoChar(&canonical, '\n');
	append_canonical_query(&canonical, query);
	appendStringInfoChar(&canonical, '\n');
	initStringInfo(&names);
	for (i = 0; i < n; i++)
	{
		appendStringInfo(&canonical, "%s:%.*s\n", signed_headers[i].name,
						 signed_headers[i].value_len, signed_headers[i].value);
		appendStringInfo(&names, "%s%s", i > 0 ? ";" : "", signed_headers[i].name);
	}
	sha256_hex(body ? body : "", body ? body_len : 0, hash);
	appendStringInfo(&canonical, "\n%s\n%s", names.data, hash);

	sha256_hex(canonical.data, canonical.len, hash);
	initStringInfo(&to_sign);
	appendStringInfo(&to_sign, "%s\n%s\n%s", SIGN_ALGORITHM, sdk_date, hash);
	hmac_sha256_hex(secret_key, to_sign.data, signature);

	return psprintf("%s Access=%s, SignedHeaders=%s, Signature=%s",
					SIGN_ALGORITHM, access_key, names.data, signature);
}

PG_FUNCTION_INFO_V1(cloud_fdw_huawei_signature);

/*
 * SQL access to the signer, for checking it against published examples and
 * for debugging a signature a gateway refuses:
 * cloud_fdw_huawei_signature(method, url, signed headers, body, ak, sk).
 */
Datum
cloud_fdw_huawei_signature(PG_FUNCTION_ARGS)
{
	char	   *method = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *url = text_to_cstring(PG_GETARG_TEXT_PP(1));
	ArrayType  *header_array = PG_GETARG_ARRAYTYPE_P(2);
	text	   *body = PG_GETARG_TEXT_PP(3);
	char	   *access_key = text_to_cstring(PG_GETARG_TEXT_PP(4));
	char	   *secret_key = text_to_cstring(PG_GETARG_TEXT_PP(5));
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	List	   *headers = NIL;

	deconstruct_array(header_array, TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &nelems);
	for (int i = 0; i < nelems; i++)
		if (!nulls[i])
			headers = lappend(headers, TextDatumGetCString(elems[i]));

	PG_RETURN_TEXT_P(cstring_to_text(cf_huawei_authorization(method, url, headers,
															 VARDATA_ANY(body),
															 VARSIZE_ANY_EXHDR(body),
															 access_key, secret_key)));
}
