/*-------------------------------------------------------------------------
 *
 * option.c
 *		  Options of cloud_fdw: one table says where each option may appear,
 *		  the validator checks values, and the resolver merges server and
 *		  table options (table options win).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <limits.h>

#include "access/genam.h"
#include "access/reloptions.h"
#include "access/table.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_foreign_data_wrapper.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/lsyscache.h"
#include "pgtime.h"
#include "utils/rel.h"

#include "cloud_fdw.h"

#define DEFAULT_CONNECT_TIMEOUT_MS	(10 * 1000)
#define DEFAULT_REQUEST_TIMEOUT_MS	(60 * 1000)
#define DEFAULT_MAX_RESPONSE_SIZE	(64 * 1024 * 1024)
#define DEFAULT_IAM_ENDPOINT		"https://iam.myhuaweicloud.com"
#define DEFAULT_CONCURRENCY			8
#define DEFAULT_MAX_RETRIES			3
#define MAX_RETRIES_OPTION			10
#define DEFAULT_REQUEST_LATENCY_MS	50

typedef void (*CfOptionCheck) (DefElem *def);

typedef struct CfOptionDef
{
	const char *name;
	Oid			context;		/* catalog in which the option may appear */
	bool		is_credential;	/* only ever in a user mapping */
	CfOptionCheck check;		/* NULL: any string */
} CfOptionDef;

static void check_provider(DefElem *def);
static void check_endpoint(DefElem *def);
static void check_duration(DefElem *def);
static void check_size(DefElem *def);
static void check_page_size(DefElem *def);
static void check_resource(DefElem *def);
static void check_path(DefElem *def);
static void check_concurrency(DefElem *def);
static void check_max_retries(DefElem *def);
static void check_boolean(DefElem *def);
static void check_ca_file(DefElem *def);
static void check_rate_limit(DefElem *def);
static void check_estimated_items(DefElem *def);
static void check_timezone(DefElem *def);

static void check_region(DefElem *def);

static const CfOptionDef option_defs[] = {
	{"provider", ForeignServerRelationId, false, check_provider},
	{"endpoint", ForeignServerRelationId, false, check_endpoint},
	{"region", ForeignServerRelationId, false, check_region},
	{"iam_endpoint", ForeignServerRelationId, false, check_endpoint},
	{"domain_id", ForeignServerRelationId, false, NULL},
	{"iam_project_id", ForeignServerRelationId, false, NULL},
	{"connect_timeout", ForeignServerRelationId, false, check_duration},
	{"request_timeout", ForeignServerRelationId, false, check_duration},
	{"max_response_size", ForeignServerRelationId, false, check_size},
	{"page_size", ForeignServerRelationId, false, check_page_size},
	{"concurrency", ForeignServerRelationId, false, check_concurrency},
	{"max_retries", ForeignServerRelationId, false, check_max_retries},
	{"allow_http", ForeignServerRelationId, false, check_boolean},
	{"ca_file", ForeignServerRelationId, false, check_ca_file},
	{"rate_limit", ForeignServerRelationId, false, check_rate_limit},
	{"request_latency", ForeignServerRelationId, false, check_duration},
	/* Qoder */
	{"token", UserMappingRelationId, true, NULL},
	/* Huawei Cloud: one of a token, an AK/SK pair, or an IAM user */
	{"auth_token", UserMappingRelationId, true, NULL},
	{"security_token", UserMappingRelationId, true, NULL},
	{"access_key", UserMappingRelationId, true, NULL},
	{"secret_key", UserMappingRelationId, true, NULL},
	{"user", UserMappingRelationId, true, NULL},
	{"password", UserMappingRelationId, true, NULL},
	{"domain_name", UserMappingRelationId, true, NULL},
	{"project", UserMappingRelationId, false, NULL},
	{"domain_id", UserMappingRelationId, false, NULL},
	{"iam_project_id", UserMappingRelationId, false, NULL},
	/*
	 * Whoever has USAGE on a server may create tables on it, so no table
	 * option may decide where the server's requests, and the credentials
	 * of its users, go: endpoints are server options only.
	 */
	{"resource", ForeignTableRelationId, false, check_resource},
	{"page_size", ForeignTableRelationId, false, check_page_size},
	{"estimated_items", ForeignTableRelationId, false, check_estimated_items},
	{"path", AttributeRelationId, false, check_path},
	{"timezone", AttributeRelationId, false, check_timezone},
};

/* Table options that supply a call parameter are declared by the registry. */
static const CfOptionDef param_option_def = {NULL, ForeignTableRelationId, false, NULL};

/* Options that must be present in a catalog's option list. */
static const struct
{
	Oid			context;
	const char *name;
}			required_options[] = {
	{ForeignServerRelationId, "provider"},
	{ForeignTableRelationId, "resource"},
};

static const CfOptionDef *
find_option(const char *name, Oid context)
{
	for (int i = 0; i < lengthof(option_defs); i++)
		if (option_defs[i].context == context &&
			strcmp(option_defs[i].name, name) == 0)
			return &option_defs[i];
	if (context == ForeignTableRelationId && cf_is_param_option(name))
		return &param_option_def;
	return NULL;
}

static bool
is_credential_option(const char *name)
{
	for (int i = 0; i < lengthof(option_defs); i++)
		if (option_defs[i].is_credential && strcmp(option_defs[i].name, name) == 0)
			return true;
	return false;
}

/* Whether an option is valid on servers and nowhere else. */
static bool
is_server_only_option(const char *name)
{
	bool		on_server = false;

	for (int i = 0; i < lengthof(option_defs); i++)
		if (strcmp(option_defs[i].name, name) == 0)
		{
			if (option_defs[i].context != ForeignServerRelationId)
				return false;
			on_server = true;
		}
	return on_server;
}

pg_noreturn static void report_invalid_option(const char *name, Oid context);

static void
report_invalid_option(const char *name, Oid context)
{
	StringInfoData valid;

	if (is_credential_option(name))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("credential option \"%s\" is only allowed in a user mapping",
						name),
				 errhint("Server, table and column options can be read by every user; "
						 "put credentials in CREATE USER MAPPING.")));
	if (is_server_only_option(name))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("option \"%s\" is only allowed on a server", name),
				 context == ForeignTableRelationId
				 ? errhint("Set it with ALTER SERVER; a table that needs another value needs a server of its own.")
				 : errhint("Set it with CREATE SERVER or ALTER SERVER.")));

	initStringInfo(&valid);
	for (int i = 0; i < lengthof(option_defs); i++)
		if (option_defs[i].context == context &&
			strstr(psprintf(", %s, ", valid.data), psprintf(", %s, ", option_defs[i].name)) == NULL)
			appendStringInfo(&valid, "%s%s", valid.len > 0 ? ", " : "",
							 option_defs[i].name);
	if (context == ForeignTableRelationId)
		appendStringInfo(&valid, ", %s", cf_param_option_names());

	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
			 errmsg("invalid option \"%s\"", name),
			 valid.len > 0
			 ? errhint("Valid options in this context are: %s.", valid.data)
			 : errhint("There are no valid options in this context.")));
}

/* The definition of an option in a catalog; an error if it has none there. */
static const CfOptionDef *
lookup_option(const char *name, Oid context)
{
	const CfOptionDef *opt = find_option(name, context);

	if (opt == NULL)
		report_invalid_option(name, context);
	return opt;
}

static DefElem *
find_def(List *options, const char *name)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, name) == 0)
			return def;
	}
	return NULL;
}

/* The value of an option in a list, or NULL. */
static const char *
option_value(List *options, const char *name)
{
	DefElem    *def = find_def(options, name);

	return def ? defGetString(def) : NULL;
}

static bool
option_is_true(List *options, const char *name)
{
	DefElem    *def = find_def(options, name);

	return def != NULL && defGetBoolean(def);
}

static void check_required_options(List *options, Oid catalog);
static void check_page_size_fits(List *options, List *resources, const char *server_provider);
static void check_allow_http(List *options, Oid validator);

PG_FUNCTION_INFO_V1(cloud_fdw_validator);

/*
 * Validate the generic options of a wrapper, server, user mapping, foreign
 * table or column.  PostgreSQL hands over the complete list after CREATE or
 * ALTER, so options can be checked against each other here too.
 */
Datum
cloud_fdw_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		const CfOptionDef *opt = lookup_option(def->defname, catalog);

		if (opt->check)
			opt->check(def);
	}
	check_required_options(options, catalog);

	if (catalog == ForeignServerRelationId)
	{
		const char *provider = option_value(options, "provider");

		check_page_size_fits(options, cf_provider_resources(cf_find_provider(provider)), provider);
		check_allow_http(options, fcinfo->flinfo->fn_oid);
	}
	else if (catalog == ForeignTableRelationId)
		check_page_size_fits(options, cf_resources_named(option_value(options, "resource")), NULL);

	PG_RETURN_VOID();
}

static void
check_required_options(List *options, Oid catalog)
{
	for (int i = 0; i < lengthof(required_options); i++)
	{
		if (required_options[i].context != catalog ||
			option_value(options, required_options[i].name) != NULL)
			continue;
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("option \"%s\" is required", required_options[i].name),
				 catalog == ForeignServerRelationId
				 ? errhint("Valid providers are: %s.", cf_provider_names())
				 : errhint("Valid resources are: %s.", cf_resource_names(NULL))));
	}
}

pg_noreturn static void report_invalid_value(DefElem *def, const char *expected);

static void
report_invalid_value(DefElem *def, const char *expected)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
			 errmsg("invalid value for option \"%s\": \"%s\"",
					def->defname, defGetString(def)),
			 errdetail("%s", expected)));
}

static void
check_provider(DefElem *def)
{
	if (cf_find_provider(defGetString(def)) == NULL)
		report_invalid_value(def, psprintf("Valid providers are: %s.",
										   cf_provider_names()));
}

static void
check_resource(DefElem *def)
{
	if (cf_resources_named(defGetString(def)) == NIL)
		report_invalid_value(def, psprintf("Valid resources are: %s.",
										   cf_resource_names(NULL)));
}

/*
 * An endpoint is an http or https URL without credentials, query or
 * fragment: requests append their own path and query to it.
 */
static void
check_endpoint(DefElem *def)
{
	const char *url = defGetString(def);
	const char *authority;
	size_t		authority_len;

	if (pg_strncasecmp(url, "https://", 8) == 0)
		authority = url + 8;
	else if (pg_strncasecmp(url, "http://", 7) == 0)
		authority = url + 7;
	else
		report_invalid_value(def, "The endpoint must be an http:// or https:// URL.");

	for (const char *p = url; *p; p++)
		if ((unsigned char) *p <= ' ' || *p == 0x7f)
			report_invalid_value(def, "The endpoint must not contain spaces or control characters.");
	if (strpbrk(url, "?#") != NULL)
		report_invalid_value(def, "The endpoint must not contain a query or a fragment.");

	authority_len = strcspn(authority, "/");
	if (authority_len == 0)
		report_invalid_value(def, "The endpoint must name a host.");
	if (memchr(authority, '@', authority_len) != NULL)
		report_invalid_value(def, "The endpoint must not contain credentials; put them in a user mapping.");
}

/* Region names such as "cn-north-4": they go into host names. */
static void
check_region(DefElem *def)
{
	const char *region = defGetString(def);

	if (region[0] == '\0' || strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(region))
		report_invalid_value(def, "A region is lower-case letters, digits and \"-\", such as \"cn-north-4\".");
}

/* A time zone PostgreSQL knows, for timestamps the API sends without one. */
static void
check_timezone(DefElem *def)
{
	if (pg_tzset(defGetString(def)) == NULL)
		report_invalid_value(def, "The value must be a time zone name such as \"UTC\" or \"Asia/Shanghai\".");
}

static void
check_duration(DefElem *def)
{
	int			ms;
	const char *hint;

	if (!parse_int(defGetString(def), &ms, GUC_UNIT_MS, &hint) || ms <= 0)
		report_invalid_value(def, "The value must be a positive duration such as \"30s\" or \"500ms\".");
}

/* A size such as "64MB"; at most 1GB, what a palloc'd buffer can hold. */
static void
check_size(DefElem *def)
{
	int			kb;
	const char *hint;

	if (!parse_int(defGetString(def), &kb, GUC_UNIT_KB, &hint) ||
		kb <= 0 || kb > (int) (MaxAllocSize / 1024))
		report_invalid_value(def, "The value must be a size between 1kB and 1GB, such as \"64MB\".");
}

/*
 * A count option's value: decimal digits only.  parse_int() would round
 * "8.5" and read "0x10" as hexadecimal; the value is used as written.
 */
static bool
parse_count(const char *value, int *result)
{
	char	   *end;
	long		n;

	if (!isdigit((unsigned char) value[0]))
		return false;
	errno = 0;
	n = strtol(value, &end, 10);
	if (*end != '\0' || errno == ERANGE || n > INT_MAX)
		return false;
	*result = (int) n;
	return true;
}

static void
check_count(DefElem *def, int min, int max)
{
	int			n;

	if (!parse_count(defGetString(def), &n) || n < min || n > max)
		report_invalid_value(def, psprintf("The value must be an integer between %d and %d.",
										   min, max));
}

/* The upper bound is the resource's: checked against the other options. */
static void
check_page_size(DefElem *def)
{
	int			n;

	if (!parse_count(defGetString(def), &n) || n < 1)
		report_invalid_value(def, "The value must be a positive integer, at most the resource's page size limit.");
}

static void
check_concurrency(DefElem *def)
{
	check_count(def, 1, CF_MAX_CONCURRENCY);
}

static void
check_max_retries(DefElem *def)
{
	check_count(def, 0, MAX_RETRIES_OPTION);
}

static void
check_boolean(DefElem *def)
{
	(void) defGetBoolean(def);
}

/*
 * A page_size option must fit each resource it may apply to: a table's,
 * its resource (under whichever provider: the validator is not told the
 * table's server); a server's, every resource of its provider.
 */
static void
report_page_size_too_large(int page_size, const CfResource *resource,
						   const char *server_provider)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
			 errmsg("page_size %d exceeds the maximum of %d for resource \"%s\"",
					page_size, resource->pagination->max_page_size, resource->name),
			 server_provider
			 ? errdetail("A server's page_size applies to every resource of its provider, \"%s\".",
						 server_provider)
			 : 0,
			 server_provider
			 ? errhint("Set a larger page_size on the foreign tables of the resources that allow it.")
			 : 0));
}

static void
check_page_size_fits(List *options, List *resources, const char *server_provider)
{
	const char *value = option_value(options, "page_size");
	int			page_size;
	ListCell   *lc;

	if (value == NULL)
		return;
	(void) parse_count(value, &page_size);
	foreach(lc, resources)
	{
		const CfResource *resource = (const CfResource *) lfirst(lc);

		if (page_size > resource->pagination->max_page_size)
			report_page_size_too_large(page_size, resource, server_provider);
	}
}

/* Whether two option values are the same, both absent included. */
static bool
same_option_value(const char *a, const char *b)
{
	return (a == NULL || b == NULL) ? a == b : strcmp(a, b) == 0;
}

/*
 * Whether a cloud_fdw server the current user owns already has allow_http
 * for these endpoints.  The validator is not told which server it checks,
 * so any such server vouches for them: a superuser allowed plain http to
 * exactly these endpoints for this owner.
 */
static bool
allow_http_granted(Oid validator, List *options)
{
	const char *endpoint = option_value(options, "endpoint");
	const char *iam_endpoint = option_value(options, "iam_endpoint");
	Relation	rel = table_open(ForeignServerRelationId, AccessShareLock);
	SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	HeapTuple	tuple;
	bool		granted = false;

	while (!granted && HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Form_pg_foreign_server server = (Form_pg_foreign_server) GETSTRUCT(tuple);
		Datum		datum;
		bool		isnull;
		List	   *server_options;

		/* ownership as ALTER SERVER checks it */
		if (!has_privs_of_role(GetUserId(), server->srvowner) ||
			GetForeignDataWrapper(server->srvfdw)->fdwvalidator != validator)
			continue;
		datum = heap_getattr(tuple, Anum_pg_foreign_server_srvoptions,
							 RelationGetDescr(rel), &isnull);
		if (isnull)
			continue;
		server_options = untransformRelOptions(datum);
		granted = option_is_true(server_options, "allow_http") &&
			same_option_value(option_value(server_options, "endpoint"), endpoint) &&
			same_option_value(option_value(server_options, "iam_endpoint"), iam_endpoint);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return granted;
}

/*
 * Plain http to hosts other than loopback sends credentials in the clear:
 * only a superuser may allow it, as postgres_fdw's password_required.  The
 * owner may keep it while changing other options, not the endpoints.
 */
static void
check_allow_http(List *options, Oid validator)
{
	if (option_is_true(options, "allow_http") && !superuser() &&
		!allow_http_granted(validator, options))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only superusers can set \"allow_http\""),
				 errdetail("The owner of a server may keep \"allow_http\" that a superuser set, "
						   "as long as \"endpoint\" and \"iam_endpoint\" stay the same.")));
}

/* An absolute path: the server process reads it, whatever its directory. */
static void
check_ca_file(DefElem *def)
{
	if (!is_absolute_path(defGetString(def)))
		report_invalid_value(def, "The value must be an absolute path to a PEM file of CA certificates.");
}

/* Requests per second, 0 for no limit. */
static void
check_rate_limit(DefElem *def)
{
	double		rate;

	if (!parse_real(defGetString(def), &rate, 0, NULL) || rate < 0 || rate > 1e6)
		report_invalid_value(def, "The value must be a number of requests per second, 0 for no limit.");
}

static void
check_estimated_items(DefElem *def)
{
	double		n;

	if (!parse_real(defGetString(def), &n, 0, NULL) || n < 0 || n > 1e12)
		report_invalid_value(def, "The value must be a non-negative number.");
}

/* A dotted path of non-empty keys: "config.networking.type". */
static void
check_path(DefElem *def)
{
	const char *path = defGetString(def);
	bool		segment_empty = true;

	for (const char *p = path; *p; p++)
	{
		if (*p == '.')
		{
			if (segment_empty)
				break;
			segment_empty = true;
		}
		else
			segment_empty = false;
	}
	if (segment_empty)
		report_invalid_value(def, "The path must be dot-separated JSON keys, such as \"config.networking.type\".");
}

/* A base URL without trailing slashes: requests append paths that start with one. */
static char *
base_url(const char *value)
{
	char	   *url = pstrdup(value);
	size_t		len = strlen(url);

	while (len > 0 && url[len - 1] == '/')
		url[--len] = '\0';
	return url;
}

static void
apply_option(CfOptions *opts, DefElem *def)
{
	const char *value = defGetString(def);

	if (strcmp(def->defname, "endpoint") == 0)
		opts->endpoint = base_url(value);
	else if (strcmp(def->defname, "region") == 0)
		opts->region = pstrdup(value);
	else if (strcmp(def->defname, "iam_endpoint") == 0)
		opts->iam_endpoint = base_url(value);
	else if (strcmp(def->defname, "domain_id") == 0)
		opts->domain_id = pstrdup(value);
	else if (strcmp(def->defname, "iam_project_id") == 0)
		opts->iam_project_id = pstrdup(value);
	else if (strcmp(def->defname, "connect_timeout") == 0)
		(void) parse_int(value, &opts->connect_timeout_ms, GUC_UNIT_MS, NULL);
	else if (strcmp(def->defname, "request_timeout") == 0)
		(void) parse_int(value, &opts->request_timeout_ms, GUC_UNIT_MS, NULL);
	else if (strcmp(def->defname, "page_size") == 0)
		(void) parse_count(value, &opts->page_size);
	else if (strcmp(def->defname, "concurrency") == 0)
		(void) parse_count(value, &opts->concurrency);
	else if (strcmp(def->defname, "max_retries") == 0)
		(void) parse_count(value, &opts->max_retries);
	else if (strcmp(def->defname, "allow_http") == 0)
		opts->allow_http = defGetBoolean(def);
	else if (strcmp(def->defname, "ca_file") == 0)
		opts->ca_file = pstrdup(value);
	else if (strcmp(def->defname, "rate_limit") == 0)
		(void) parse_real(value, &opts->rate_limit, 0, NULL);
	else if (strcmp(def->defname, "request_latency") == 0)
		(void) parse_int(value, &opts->request_latency_ms, GUC_UNIT_MS, NULL);
	else if (strcmp(def->defname, "estimated_items") == 0)
	{
		(void) parse_real(value, &opts->estimated_items, 0, NULL);
		opts->estimated_items_given = true;
	}
	else if (strcmp(def->defname, "max_response_size") == 0)
	{
		int			kb;

		(void) parse_int(value, &kb, GUC_UNIT_KB, NULL);
		opts->max_response_size = (size_t) kb * 1024;
	}
	else if (cf_is_param_option(def->defname))
		opts->param_options = lappend(opts->param_options, def);
}

/* Fill {region} of an endpoint template; a regional endpoint needs a region. */
static char *
expand_region(const char *template, const CfOptions *opts, const char *what)
{
	const char *placeholder = strstr(template, "{region}");

	if (placeholder == NULL)
		return pstrdup(template);
	if (opts->region == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("server \"%s\" needs option \"region\" for %s",
						opts->server_name, what),
				 errhint("Set the region, such as OPTIONS (ADD region 'cn-north-4'), or an endpoint.")));
	return psprintf("%.*s%s%s", (int) (placeholder - template), template,
					opts->region, placeholder + strlen("{region}"));
}

/* Whether what follows a URL's host is nothing or a port, ":8080". */
static bool
is_port_or_nothing(const char *rest)
{
	return rest[0] == '\0' ||
		(rest[0] == ':' && strspn(rest + 1, "0123456789") == strlen(rest + 1));
}

/*
 * Whether the host of a URL is this machine: an IPv4 address in 127.0.0.0/8,
 * [::1], or localhost.  The host is parsed whole, so that a name such as
 * 127.0.0.1.example.com, which merely starts like one, is not loopback.
 */
static bool
is_loopback_url(const char *url)
{
	const char *start = strstr(url, "://") + 3;
	char	   *host = pnstrdup(start, strcspn(start, "/"));
	char	   *rest;
	unsigned char addr[sizeof(struct in6_addr)];

	/* the validator refuses userinfo, which would hide the real host */
	if (strchr(host, '@') != NULL)
		return false;
	if (host[0] == '[')
	{
		rest = strchr(host, ']');
		if (rest == NULL || !is_port_or_nothing(rest + 1))
			return false;
		*rest = '\0';
		return inet_pton(AF_INET6, host + 1, addr) == 1 &&
			memcmp(addr, &in6addr_loopback, sizeof(struct in6_addr)) == 0;
	}
	rest = host + strcspn(host, ":");
	if (!is_port_or_nothing(rest))
		return false;
	*rest = '\0';
	/* inet_pton takes four decimal octets only: no "127.1", no "0x7f.0.0.1" */
	return pg_strcasecmp(host, "localhost") == 0 ||
		(inet_pton(AF_INET, host, addr) == 1 && addr[0] == 127);
}

/*
 * Credentials never cross a network in the clear: plain http is for the
 * loopback interface (tests, local proxies) unless a superuser allowed it.
 */
static void
check_plain_http(const CfOptions *opts, const char *url)
{
	if (pg_strncasecmp(url, "http://", 7) == 0 && !opts->allow_http && !is_loopback_url(url))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cloud_fdw refuses plain http to \"%s\"", url),
				 errdetail("Credentials would cross the network unencrypted."),
				 errhint("Use https, or have a superuser set server option \"allow_http\" to true.")));
}

/*
 * Resolve the options of a foreign table: provider and resource defaults,
 * then server options, then table options.
 */
void
cf_get_options(Oid foreigntableid, CfOptions *opts)
{
	ForeignTable *table = GetForeignTable(foreigntableid);
	ForeignServer *server = GetForeignServer(table->serverid);
	const char *provider_name = NULL;
	const char *resource_name = NULL;
	ListCell   *lc;

	memset(opts, 0, sizeof(CfOptions));
	opts->serverid = server->serverid;
	opts->server_name = server->servername;
	opts->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
	opts->request_timeout_ms = DEFAULT_REQUEST_TIMEOUT_MS;
	opts->max_response_size = DEFAULT_MAX_RESPONSE_SIZE;
	opts->concurrency = DEFAULT_CONCURRENCY;
	opts->max_retries = DEFAULT_MAX_RETRIES;
	opts->request_latency_ms = DEFAULT_REQUEST_LATENCY_MS;
	opts->estimated_items = -1;

	/*
	 * Options stored without this validator (by an older cloud_fdw, or under
	 * a wrapper created without it) are checked again where they matter: a
	 * table must not redirect requests, nor lack what the code relies on.
	 */
	check_required_options(server->options, ForeignServerRelationId);
	check_required_options(table->options, ForeignTableRelationId);

	foreach(lc, server->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "provider") == 0)
			provider_name = defGetString(def);
		else
			apply_option(opts, def);
	}
	foreach(lc, table->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		(void) lookup_option(def->defname, ForeignTableRelationId);
		if (strcmp(def->defname, "resource") == 0)
			resource_name = defGetString(def);
		else
			apply_option(opts, def);
	}

	/* The validator guarantees both names exist; the pair may still not fit. */
	opts->provider = cf_find_provider(provider_name);
	opts->resource = cf_find_resource(opts->provider, resource_name);
	if (opts->resource == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("provider \"%s\" of server \"%s\" has no resource \"%s\"",
						provider_name, server->servername, resource_name),
				 errhint("Resources of provider \"%s\" are: %s.",
						 provider_name, cf_resource_names(opts->provider))));

	if (opts->endpoint == NULL)
		opts->endpoint = expand_region(opts->resource->default_endpoint, opts,
									   psprintf("resource \"%s\"", resource_name));
	if (opts->iam_endpoint == NULL)
		opts->iam_endpoint = pstrdup(DEFAULT_IAM_ENDPOINT);
	check_plain_http(opts, opts->endpoint);
	check_plain_http(opts, opts->iam_endpoint);
	if (opts->estimated_items < 0)
		opts->estimated_items = opts->resource->estimated_items;

	/* also for options stored without this validator, as above */
	if (opts->page_size > opts->resource->pagination->max_page_size)
		report_page_size_too_large(opts->page_size, opts->resource, NULL);
	if (opts->page_size == 0)
		opts->page_size = opts->resource->pagination->max_page_size;
}

/* The value of a table option that supplies a call parameter, or NULL. */
const char *
cf_param_option(const CfOptions *opts, const char *name)
{
	ListCell   *lc;

	foreach(lc, opts->param_options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, name) == 0)
			return defGetString(def);
	}
	return NULL;
}

static void
report_unused_credential(const CfOptions *opts, const char *name, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
			 errmsg("user mapping option \"%s\" is not used by provider \"%s\"",
					name, opts->provider->name),
			 errdetail("%s", detail)));
}

/*
 * Read the credentials of a user mapping and check that they make one
 * authentication style of the provider.  Like postgres_fdw's password rule,
 * only a superuser may use a mapping without credentials: otherwise a
 * non-superuser could borrow whatever the server process can reach.
 */
void
cf_get_credentials(UserMapping *user, const CfOptions *opts, CfCredentials *creds)
{
	ListCell   *lc;
	bool		huawei = (opts->provider->auth == CF_AUTH_HUAWEI);
	int			styles;

	memset(creds, 0, sizeof(CfCredentials));
	creds->domain_id = opts->domain_id;
	creds->iam_project_id = opts->iam_project_id;
	foreach(lc, user->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		const char *name = def->defname;
		char	   *value = defGetString(def);

		if (strcmp(name, "token") == 0)
			creds->token = value;
		else if (strcmp(name, "auth_token") == 0)
			creds->auth_token = value;
		else if (strcmp(name, "security_token") == 0)
			creds->security_token = value;
		else if (strcmp(name, "access_key") == 0)
			creds->access_key = value;
		else if (strcmp(name, "secret_key") == 0)
			creds->secret_key = value;
		else if (strcmp(name, "user") == 0)
			creds->user = value;
		else if (strcmp(name, "password") == 0)
			creds->password = value;
		else if (strcmp(name, "domain_name") == 0)
			creds->domain_name = value;
		else if (strcmp(name, "project") == 0)
			creds->project = value;
		else if (strcmp(name, "domain_id") == 0)
			creds->domain_id = value;
		else if (strcmp(name, "iam_project_id") == 0)
			creds->iam_project_id = value;

		if (!huawei && strcmp(name, "token") != 0)
			report_unused_credential(opts, name, "Qoder user mappings take a \"token\".");
		if (huawei && strcmp(name, "token") == 0)
			report_unused_credential(opts, name,
									 "Huawei Cloud user mappings take \"auth_token\", "
									 "\"access_key\" and \"secret_key\", or \"user\", \"password\" and \"domain_name\".");
	}

	styles = (creds->auth_token != NULL) +
		(creds->access_key != NULL || creds->secret_key != NULL) +
		(creds->user != NULL || creds->password != NULL || creds->domain_name != NULL);
	if (styles > 1)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("user mapping for server \"%s\" mixes authentication styles",
						opts->server_name),
				 errhint("Give either \"auth_token\", or \"access_key\" and \"secret_key\", "
						 "or \"user\", \"password\" and \"domain_name\".")));
	if ((creds->access_key != NULL) != (creds->secret_key != NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("user mapping for server \"%s\" needs both \"access_key\" and \"secret_key\"",
						opts->server_name)));
	if ((creds->user != NULL || creds->password != NULL || creds->domain_name != NULL) &&
		(creds->user == NULL || creds->password == NULL || creds->domain_name == NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("user mapping for server \"%s\" needs \"user\", \"password\" and \"domain_name\" together",
						opts->server_name)));

	if (creds->token == NULL && styles == 0 && !superuser_arg(user->userid))
		ereport(ERROR,
				(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
				 errmsg("credential is required"),
				 huawei
				 ? errdetail("Non-superusers must give credentials in the user mapping for server \"%s\".",
							 opts->server_name)
				 : errdetail("Non-superusers must give a token in the user mapping for server \"%s\".",
							 opts->server_name)));
}

/* A column option's value, or NULL. */
char *
cf_column_option(Oid relid, AttrNumber attnum, const char *name)
{
	ListCell   *lc;

	foreach(lc, GetForeignColumnOptions(relid, attnum))
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, name) == 0)
			return defGetString(def);
	}
	return NULL;
}

/* The JSON path of a column: its "path" option, else its name. */
char *
cf_column_path(Oid relid, AttrNumber attnum)
{
	char	   *path = cf_column_option(relid, attnum, "path");

	return path ? path : get_attname(relid, attnum, false);
}

/* The column mapped to the resource's key, or InvalidAttrNumber. */
AttrNumber
cf_key_attnum(Relation rel, const CfResource *resource)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	const char *key_path = cf_key_column(resource)->path;

	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		if (!att->attisdropped &&
			strcmp(cf_column_path(RelationGetRelid(rel), att->attnum), key_path) == 0)
			return att->attnum;
	}
	return InvalidAttrNumber;
}

/*
 * The resource of a foreign table without raising errors, for callers such
 * as information_schema that must not fail on a misconfigured table.
 */
const CfResource *
cf_table_resource(Oid foreigntableid)
{
	ForeignTable *table = GetForeignTable(foreigntableid);
	ForeignServer *server = GetForeignServer(table->serverid);
	const CfProvider *provider = NULL;
	ListCell   *lc;

	foreach(lc, server->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "provider") == 0)
			provider = cf_find_provider(defGetString(def));
	}
	foreach(lc, table->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (provider != NULL && strcmp(def->defname, "resource") == 0)
			return cf_find_resource(provider, defGetString(def));
	}
	return NULL;
}

