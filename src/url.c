/*-------------------------------------------------------------------------
 *
 * url.c
 *		  The few things cloud_fdw does with URLs: split them and
 *		  percent-encode values, one way for requests and signatures alike.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"

#include "cloud_fdw.h"

/* The part after "scheme://", or the whole text without a scheme. */
static const char *
after_scheme(const char *url)
{
	const char *start = strstr(url, "://");

	return start ? start + 3 : url;
}

/* "https://host:port/path" -> "host:port", as the Host header sends it. */
char *
cf_url_authority(const char *url)
{
	const char *start = after_scheme(url);

	return pnstrdup(start, strcspn(start, "/?#"));
}

/* "https://host/a/b?x=1" -> path "/a/b" and query "x=1" (or NULL). */
void
cf_url_split(const char *url, char **path, char **query)
{
	const char *slash = strchr(after_scheme(url), '/');
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
 * Percent-encode everything but RFC 3986's unreserved characters (A-Z a-z
 * 0-9 - . _ ~), with upper-case hex, so that a value can never leave its
 * path segment or query parameter ("a/b?c" and "../x" stay one opaque
 * segment).  This is also the encoding Huawei's signature canonicalizes to.
 */
void
cf_append_encoded(StringInfo buf, const char *bytes, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) bytes[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			(c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~')
			appendStringInfoChar(buf, (char) c);
		else
		{
			appendStringInfoChar(buf, '%');
			appendStringInfoChar(buf, hex[c >> 4]);
			appendStringInfoChar(buf, hex[c & 0x0F]);
		}
	}
}
