/*-------------------------------------------------------------------------
 *
 * option.c
 *		  Options of cloud_fdw: one table says, for each option, where it
 *		  may appear, its type, its default and where it lands; providers
 *		  declare their own options the same way (registry.c).  The
 *		  validator, the defaults and the resolver (table options win over
 *		  server options) are loops over these tables.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stddef.h>

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
#include "nodes/makefuncs.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/lsyscache.h"
#include "pgtime.h"
#include "utils/rel.h"

#include "cloud_fdw.h"

static void check_provider(DefElem *def);
static void check_resource(DefElem *def);
static void check_path(DefElem *def);
static void check_ca_file(DefElem *def);
static void check_timezone(DefElem *def);

#define LANDS_IN(field) offsetof(CfOptions, field)

static const char *const partial_error_values[] = {"error", "warn", NULL};

/*
 * Whoever has USAGE on a server may create tables on it, so no table
 * option may decide where the server's requests, and the credentials of
 * its users, go: endpoints are server options only.  Credentials and the
 * options only one provider knows are the providers' (registry.c).
 */
static const CfOptionDef option_defs[] = {
	{"provider", CF_ON_SERVER, CF_OPT_STRING, .offset = -1, .check = check_provider},
	{"endpoint", CF_ON_SERVER, CF_OPT_URL, .offset = LANDS_IN(endpoint)},
	{"connect_timeout", CF_ON_SERVER, CF_OPT_MS, .default_value = "10s",
	.offset = LANDS_IN(connect_timeout_ms)},
	{"request_timeout", CF_ON_SERVER, CF_OPT_MS, .default_value = "60s",
	.offset = LANDS_IN(request_timeout_ms)},
	{"max_response_size", CF_ON_SERVER, CF_OPT_BYTES, .default_value = "64MB",
	.offset = LANDS_IN(max_response_size)},
	/* the upper bound is the resource's: checked against the other options */
	{"page_size", CF_ON_SERVER | CF_ON_TABLE, CF_OPT_INT, 1, INT_MAX,
	.offset = LANDS_IN(page_size),
	.expected = "The value must be a positive integer, at most the resource's page size limit."},
	{"concurrency", CF_ON_SERVER, CF_OPT_INT, 1, CF_MAX_CONCURRENCY, .default_value = "8",
	.offset = LANDS_IN(concurrency)},
	{"max_retries", CF_ON_SERVER, CF_OPT_INT, 0, 10, .default_value = "3",
	.offset = LANDS_IN(max_retries)},
	{"allow_http", CF_ON_SERVER, CF_OPT_BOOL, .default_value = "false",
	.offset = LANDS_IN(allow_http)},
	{"ca_file", CF_ON_SERVER, CF_OPT_STRING, .offset = LANDS_IN(ca_file), .check = check_ca_file},
	{"rate_limit", CF_ON_SERVER, CF_OPT_REAL, 0, 1e6, .default_value = "0",
	.offset = LANDS_IN(rate_limit),
	.expected = "The value must be a number of requests per second, 0 for no limit."},
	{"request_latency", CF_ON_SERVER, CF_OPT_MS, .default_value = "50ms",
	.offset = LANDS_IN(request_latency_ms)},
	{"resource", CF_ON_TABLE, CF_OPT_STRING, .offset = -1, .check = check_resource},
	{"estimated_items", CF_ON_TABLE, CF_OPT_REAL, 0, 1e12, .offset = LANDS_IN(estimated_items),
	.expected = "The value must be a non-negative number."},
	{"on_partial_error", CF_ON_TABLE, CF_OPT_ENUM, .values = partial_error_values,
	.default_value = "error", .offset = LANDS_IN(on_partial_error)},
	{"on_partition_error", CF_ON_SERVER | CF_ON_TABLE, CF_OPT_ENUM,
		.values = partial_error_values, .default_value = "error",
	.offset = LANDS_IN(on_partition_error)},
	{"async_capable", CF_ON_SERVER | CF_ON_TABLE, CF_OPT_BOOL, .default_value = "true",
	.offset = LANDS_IN(async_capable)},
	{"cache_ttl", CF_ON_SERVER | CF_ON_TABLE, CF_OPT_MS, .default_value = "0", .zero_is_off = true,
	.offset = LANDS_IN(cache_ttl_ms)},
	{"path", CF_ON_COLUMN, CF_OPT_STRING, .offset = -1, .check = check_path},
	{"timezone", CF_ON_COLUMN, CF_OPT_STRING, .offset = -1, .check = check_timezone},
	{"value", CF_ON_COLUMN, CF_OPT_STRING, .offset = -1},
};

/* Table options that supply a call parameter are declared by the registry. */
static const CfOptionDef param_option_def = {NULL, CF_ON_TABLE, CF_OPT_STRING, .offset = -1};

/* Options that must be present in a catalog's option list. */
static const struct
{
	int			where;
	const char *name;
}			required_options[] = {
	{CF_ON_SERVER, "provider"},
	{CF_ON_TABLE, "resource"},
};

/* The CF_ON_* bit of a catalog the validator is called for; 0: the wrapper. */
static int
catalog_bit(Oid catalog)
{
	switch (catalog)
	{
		case ForeignServerRelationId:
			return CF_ON_SERVER;
		case UserMappingRelationId:
			return CF_ON_MAPPING;
		case ForeignTableRelationId:
			return CF_ON_TABLE;
		case AttributeRelationId:
			return CF_ON_COLUMN;
	}
	return 0;
}

static const CfOptionDef *
find_general_option(const char *name, int where)
{
	for (int i = 0; i < lengthof(option_defs); i++)
		if ((option_defs[i].where & where) && strcmp(option_defs[i].name, name) == 0)
			return &option_defs[i];
	return NULL;
}

/* An option's definition where the bits say, whoever declares it, or NULL. */
static const CfOptionDef *
find_option(const char *name, int where)
{
	const CfOptionDef *opt = find_general_option(name, where);

	if (opt == NULL)
		opt = cf_find_provider_option(name, where, NULL);
	if (opt == NULL && (where & CF_ON_TABLE) && cf_is_param_option(name))
		opt = &param_option_def;
	return opt;
}

static bool
is_credential_option(const char *name)
{
	const CfOptionDef *opt = cf_find_provider_option(name, CF_ON_MAPPING, NULL);

	return opt != NULL && opt->is_credential;
}

/* Whether an option is valid on servers and nowhere else. */
static bool
is_server_only_option(const char *name)
{
	const CfOptionDef *opt = find_option(name, CF_ON_SERVER);

	return opt != NULL && find_option(name, CF_ON_MAPPING | CF_ON_TABLE | CF_ON_COLUMN) == NULL;
}

/* Comma-separated names of the options valid where the bits say. */
static char *
valid_option_names(int where)
{
	StringInfoData valid;
	List	   *names = NIL;
	ListCell   *lc;

	for (int i = 0; i < lengthof(option_defs); i++)
		if (option_defs[i].where & where)
			names = lappend(names, (char *) option_defs[i].name);
	for (int p = 0; p < cf_provider_count(); p++)
	{
		const CfProvider *provider = cf_provider_at(p);

		for (int i = 0; i < provider->noptions; i++)
			if (provider->options[i].where & where)
				names = lappend(names, (char *) provider->options[i].name);
	}
	initStringInfo(&valid);
	foreach(lc, names)
		if (strstr(psprintf(", %s, ", valid.data), psprintf(", %s, ", (char *) lfirst(lc))) == NULL)
			appendStringInfo(&valid, "%s%s", valid.len > 0 ? ", " : "", (char *) lfirst(lc));
	if (where & CF_ON_TABLE)
		appendStringInfo(&valid, ", %s", cf_param_option_names());
	return valid.data;
}

pg_noreturn static void report_invalid_option(const char *name, int where);

static void
report_invalid_option(const char *name, int where)
{
	char	   *valid;

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
				 where == CF_ON_TABLE
				 ? errhint("Set it with ALTER SERVER; a table that needs another value needs a server of its own.")
				 : errhint("Set it with CREATE SERVER or ALTER SERVER.")));

	valid = where ? valid_option_names(where) : "";
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
			 errmsg("invalid option \"%s\"", name),
			 valid[0] != '\0'
			 ? errhint("Valid options in this context are: %s.", valid)
			 : errhint("There are no valid options in this context.")));
}

/* The definition of an option where the bits say; an error if it has none there. */
static const CfOptionDef *
lookup_option(const char *name, int where)
{
	const CfOptionDef *opt = where ? find_option(name, where) : NULL;

	if (opt == NULL)
		report_invalid_option(name, where);
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

static void check_value(DefElem *def, const CfOptionDef *opt);
static void check_required_options(List *options, int where);
static void check_provider_scope(List *options);
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
	int			where = catalog_bit(PG_GETARG_OID(1));
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		check_value(def, lookup_option(def->defname, where));
	}
	check_required_options(options, where);

	/* a fixed value stands for the column's field: it maps to none */
	if (where == CF_ON_COLUMN && option_value(options, "path") != NULL &&
		option_value(options, "value") != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("options \"path\" and \"value\" cannot be used together"),
				 errdetail("A column with a fixed value maps to no field of the resource.")));

	if (where == CF_ON_SERVER)
	{
		const char *provider = option_value(options, "provider");

		check_provider_scope(options);
		check_page_size_fits(options, cf_provider_resources(cf_find_provider(provider)), provider);
		check_allow_http(options, fcinfo->flinfo->fn_oid);
	}
	else if (where == CF_ON_TABLE)
		check_page_size_fits(options, cf_resources_named(option_value(options, "resource")), NULL);

	PG_RETURN_VOID();
}

static void
check_required_options(List *options, int where)
{
	for (int i = 0; i < lengthof(required_options); i++)
	{
		if (required_options[i].where != where ||
			option_value(options, required_options[i].name) != NULL)
			continue;
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("option \"%s\" is required", required_options[i].name),
				 where == CF_ON_SERVER
				 ? errhint("Valid providers are: %s.", cf_provider_names())
				 : errhint("Valid resources are: %s.", cf_resource_names(NULL))));
	}
}

/* A server's options that belong to a provider must belong to its own. */
static void
check_provider_scope(List *options)
{
	const CfProvider *server_provider = cf_find_provider(option_value(options, "provider"));
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		const CfProvider *owner;

		if (find_general_option(def->defname, CF_ON_SERVER) == NULL &&
			cf_find_provider_option(def->defname, CF_ON_SERVER, &owner) != NULL &&
			owner != server_provider)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("option \"%s\" is not used by provider \"%s\"",
							def->defname, server_provider->name),
					 errdetail("It is an option of provider \"%s\".", owner->name)));
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
check_url(DefElem *def)
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
void
cf_check_region(DefElem *def)
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

/* A size such as "64MB" in kB; at most 1GB, what a palloc'd buffer can hold. */
static bool
parse_size_kb(const char *value, int *kb)
{
	return parse_int(value, kb, GUC_UNIT_KB, NULL) && *kb > 0 &&
		*kb <= (int) (MaxAllocSize / 1024);
}

static bool
parse_duration_ms(const char *value, int *ms, bool zero_is_off)
{
	return parse_int(value, ms, GUC_UNIT_MS, NULL) && (*ms > 0 || (*ms == 0 && zero_is_off));
}

/* The index of an enumeration's value, or -1. */
static int
enum_index(const CfOptionDef *opt, const char *value)
{
	for (int i = 0; opt->values[i] != NULL; i++)
		if (strcmp(opt->values[i], value) == 0)
			return i;
	return -1;
}

/* The value checked against the option's type, then by its own check. */
static void
check_value(DefElem *def, const CfOptionDef *opt)
{
	const char *value = defGetString(def);
	int			n;
	double		real;

	switch (opt->type)
	{
		case CF_OPT_STRING:
			break;
		case CF_OPT_URL:
			check_url(def);
			break;
		case CF_OPT_INT:
			if (!parse_count(value, &n) || n < opt->min || n > opt->max)
				report_invalid_value(def, opt->expected ? opt->expected
									 : psprintf("The value must be an integer between %d and %d.",
												(int) opt->min, (int) opt->max));
			break;
		case CF_OPT_MS:
			if (!parse_duration_ms(value, &n, opt->zero_is_off))
				report_invalid_value(def, opt->zero_is_off
									 ? "The value must be a duration such as \"60s\" or \"5min\", or 0 for off."
									 : "The value must be a positive duration such as \"30s\" or \"500ms\".");
			break;
		case CF_OPT_BYTES:
			if (!parse_size_kb(value, &n))
				report_invalid_value(def, "The value must be a size between 1kB and 1GB, such as \"64MB\".");
			break;
		case CF_OPT_REAL:
			if (!parse_real(value, &real, 0, NULL) || real < opt->min || real > opt->max)
				report_invalid_value(def, opt->expected);
			break;
		case CF_OPT_BOOL:
			(void) defGetBoolean(def);
			break;
		case CF_OPT_ENUM:
			if (enum_index(opt, value) < 0)
			{
				StringInfoData valid;

				initStringInfo(&valid);
				for (int i = 0; opt->values[i] != NULL; i++)
					appendStringInfo(&valid, "%s\"%s\"", i > 0 ? ", " : "", opt->values[i]);
				report_invalid_value(def, psprintf("Valid values are: %s.", valid.data));
			}
			break;
	}
	if (opt->check)
		opt->check(def);
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

/* Whether two option lists name the same URLs (every URL option; absent ones too). */
static bool
same_urls(List *a, List *b)
{
	ListCell   *lc;

	foreach(lc, list_concat_copy(a, b))
	{
		const char *name = ((DefElem *) lfirst(lc))->defname;
		const CfOptionDef *opt = find_option(name, CF_ON_SERVER);
		const char *va = option_value(a, name);
		const char *vb = option_value(b, name);

		if (opt != NULL && opt->type == CF_OPT_URL &&
			((va == NULL || vb == NULL) ? va != vb : strcmp(va, vb) != 0))
			return false;
	}
	return true;
}

/*
 * Whether a cloud_fdw server the current user owns already has allow_http
 * for these endpoints (every URL option).  The validator is not told which server it checks,
 * so any such server vouches for them: a superuser allowed plain http to
 * exactly these endpoints for this owner.
 */
static bool
allow_http_granted(Oid validator, List *options)
{
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
			same_urls(server_options, options);
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

/* Store an option's value where its definition says, converted to its type. */
static void
apply_value(CfOptions *opts, const CfOptionDef *opt, const char *value)
{
	char	   *field = (char *) opts + opt->offset;
	int			n;

	if (opt->offset < 0)
		return;
	switch (opt->type)
	{
		case CF_OPT_STRING:
			*(char **) field = pstrdup(value);
			break;
		case CF_OPT_URL:
			*(char **) field = base_url(value);
			break;
		case CF_OPT_INT:
			(void) parse_count(value, (int *) field);
			break;
		case CF_OPT_MS:
			(void) parse_duration_ms(value, (int *) field, opt->zero_is_off);
			break;
		case CF_OPT_BYTES:
			(void) parse_size_kb(value, &n);
			*(size_t *) field = (size_t) n * 1024;
			break;
		case CF_OPT_REAL:
			(void) parse_real(value, (double *) field, 0, NULL);
			break;
		case CF_OPT_BOOL:
			(void) parse_bool(value, (bool *) field);
			break;
		case CF_OPT_ENUM:
			*(int *) field = Max(0, enum_index(opt, value));
			break;
	}
}

/* A provider's option as given, URLs without their trailing slashes. */
static DefElem *
provider_value(const CfOptionDef *opt, DefElem *def)
{
	if (opt->type != CF_OPT_URL)
		return def;
	return makeDefElem(def->defname, (Node *) makeString(base_url(defGetString(def))), -1);
}

/*
 * Fill the {option} placeholders of an endpoint template with the
 * provider's options: a regional endpoint needs a region.
 */
static char *
expand_endpoint(const char *template, const CfOptions *opts, const char *what)
{
	StringInfoData url;
	const char *p = template;
	const char *open;

	initStringInfo(&url);
	while ((open = strchr(p, '{')) != NULL)
	{
		const char *close = strchr(open, '}');
		char	   *name = pnstrdup(open + 1, close - open - 1);
		const char *value = cf_provider_option(opts, name);

		if (value == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("server \"%s\" needs option \"%s\" for %s",
							opts->server_name, name, what),
					 errhint("Set it, such as OPTIONS (ADD %s '...'), or set an endpoint.", name)));
		appendBinaryStringInfo(&url, p, open - p);
		appendStringInfoString(&url, value);
		p = close + 1;
	}
	appendStringInfoString(&url, p);
	return url.data;
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
	char	   *host = cf_url_authority(url);
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
 * The options a server gives its tables: defaults, then its own; the
 * provider, and the provider's options (those its user mappings may also
 * set among them).
 */
void
cf_get_server_options(ForeignServer *server, CfOptions *opts)
{
	ListCell   *lc;

	memset(opts, 0, sizeof(CfOptions));
	opts->serverid = server->serverid;
	opts->server_name = server->servername;
	for (int i = 0; i < lengthof(option_defs); i++)
		if (option_defs[i].default_value != NULL)
			apply_value(opts, &option_defs[i], option_defs[i].default_value);
	opts->estimated_items = -1;
	check_required_options(server->options, CF_ON_SERVER);
	foreach(lc, server->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		const CfOptionDef *opt = find_general_option(def->defname, CF_ON_SERVER);

		if (opt != NULL)
			apply_value(opts, opt, defGetString(def));
		else if ((opt = cf_find_provider_option(def->defname, CF_ON_SERVER, NULL)) != NULL)
			opts->provider_options = lappend(opts->provider_options, provider_value(opt, def));
	}
	opts->provider = cf_find_provider(option_value(server->options, "provider"));
}

/*
 * Resolve the options of a foreign table: defaults, then server options,
 * then table options.
 */
void
cf_get_options(Oid foreigntableid, CfOptions *opts)
{
	ForeignTable *table = GetForeignTable(foreigntableid);
	ForeignServer *server = GetForeignServer(table->serverid);
	const char *resource_name = option_value(table->options, "resource");
	ListCell   *lc;

	/*
	 * Options stored without this validator (by an older cloud_fdw, or under
	 * a wrapper created without it) are checked again where they matter: a
	 * table must not redirect requests, nor lack what the code relies on.
	 */
	cf_get_server_options(server, opts);
	check_required_options(table->options, CF_ON_TABLE);
	foreach(lc, table->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		const CfOptionDef *opt = lookup_option(def->defname, CF_ON_TABLE);

		if (opt == &param_option_def)
			opts->param_options = lappend(opts->param_options, def);
		else
			apply_value(opts, opt, defGetString(def));
	}
	opts->estimated_items_given = find_def(table->options, "estimated_items") != NULL;

	/* The validator guarantees both names exist; the pair may still not fit. */
	opts->resource = cf_find_resource(opts->provider, resource_name);
	if (opts->resource == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("provider \"%s\" of server \"%s\" has no resource \"%s\"",
						opts->provider->name, server->servername, resource_name),
				 errhint("Resources of provider \"%s\" are: %s.",
						 opts->provider->name, cf_resource_names(opts->provider))));

	if (opts->endpoint == NULL)
		opts->endpoint = expand_endpoint(opts->resource->default_endpoint, opts,
										 psprintf("resource \"%s\"", resource_name));
	check_plain_http(opts, opts->endpoint);
	for (int i = 0; i < opts->provider->noptions; i++)
		if (opts->provider->options[i].type == CF_OPT_URL)
			check_plain_http(opts, cf_provider_option(opts, opts->provider->options[i].name));
	if (opts->estimated_items < 0)
		opts->estimated_items = opts->resource->estimated_items;

	/* also for options stored without this validator, as above */
	if (opts->page_size > opts->resource->pagination->max_page_size)
		report_page_size_too_large(opts->page_size, opts->resource, NULL);
	if (opts->page_size == 0)
		opts->page_size = opts->resource->pagination->max_page_size;
}

/* The provider a server names, or NULL (options stored without the validator). */
const CfProvider *
cf_server_provider(ForeignServer *server)
{
	const char *name = option_value(server->options, "provider");

	return name ? cf_find_provider(name) : NULL;
}

/* A provider option of the server, or its default, or NULL. */
const char *
cf_provider_option(const CfOptions *opts, const char *name)
{
	const char *value = option_value(opts->provider_options, name);

	if (value == NULL)
		for (int i = 0; i < opts->provider->noptions; i++)
			if (strcmp(opts->provider->options[i].name, name) == 0)
				return opts->provider->options[i].default_value;
	return value;
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

/* "a" / both "a" and "b" / "a", "b" and "c" together: a method's options. */
static char *
option_names_together(const char *const *names)
{
	StringInfoData buf;
	int			n = 0;

	while (names[n] != NULL)
		n++;
	initStringInfo(&buf);
	for (int i = 0; i < n; i++)
		appendStringInfo(&buf, "%s\"%s\"", i == 0 ? (n == 2 ? "both " : "")
						 : (i == n - 1 ? " and " : ", "), names[i]);
	if (n > 2)
		appendStringInfoString(&buf, " together");
	return buf.data;
}

/* "\"auth_token\", or \"access_key\" and \"secret_key\", or ...": the methods. */
static char *
method_choices(const CfProvider *provider)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int m = 0; m < provider->nmethods; m++)
	{
		const char *const *names = provider->methods[m].options;

		appendStringInfoString(&buf, m > 0 ? ", or " : (provider->nmethods > 1 ? "either " : ""));
		for (int i = 0; names[i] != NULL; i++)
			appendStringInfo(&buf, "%s\"%s\"",
							 i == 0 ? "" : (names[i + 1] == NULL ? " and " : ", "), names[i]);
	}
	return buf.data;
}

static bool
method_uses(const CfAuthMethod *method, const char *name)
{
	for (int i = 0; method->options[i] != NULL; i++)
		if (strcmp(method->options[i], name) == 0)
			return true;
	return false;
}

/* The credential, or provider option, of this name, or NULL. */
const char *
cf_credential(const CfCredentials *creds, const char *name)
{
	return option_value(creds->values, name);
}

/*
 * Read the credentials of a user mapping and find the one authentication
 * method of the provider they choose.  Like postgres_fdw's password rule,
 * only a superuser may use a mapping without credentials: otherwise a
 * non-superuser could borrow whatever the server process can reach.
 */
void
cf_get_credentials(UserMapping *user, const CfOptions *opts, CfCredentials *creds)
{
	const CfProvider *provider = opts->provider;
	ListCell   *lc;

	memset(creds, 0, sizeof(CfCredentials));
	foreach(lc, user->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		const CfOptionDef *opt = NULL;

		for (int i = 0; i < provider->noptions && opt == NULL; i++)
			if ((provider->options[i].where & CF_ON_MAPPING) &&
				strcmp(provider->options[i].name, def->defname) == 0)
				opt = &provider->options[i];
		if (opt == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("user mapping option \"%s\" is not used by provider \"%s\"",
							def->defname, provider->name),
					 errdetail("User mappings of provider \"%s\" take %s.",
							   provider->name, method_choices(provider))));
		creds->values = lappend(creds->values, def);
	}
	/* the server's values of options a mapping may also set come after the mapping's */
	foreach(lc, opts->provider_options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		const CfOptionDef *opt = cf_find_provider_option(def->defname, CF_ON_MAPPING, NULL);

		if (opt != NULL && !opt->is_credential)
			creds->values = lappend(creds->values, def);
	}

	for (int m = 0; m < provider->nmethods; m++)
	{
		const CfAuthMethod *method = &provider->methods[m];

		foreach(lc, user->options)
			if (method_uses(method, ((DefElem *) lfirst(lc))->defname))
			{
				if (creds->method != NULL && creds->method != method)
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
							 errmsg("user mapping for server \"%s\" mixes authentication styles",
									opts->server_name),
							 errhint("Give %s.", method_choices(provider))));
				creds->method = method;
			}
	}
	if (creds->method != NULL)
		for (int i = 0; creds->method->options[i] != NULL; i++)
			if (cf_credential(creds, creds->method->options[i]) == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
						 errmsg("user mapping for server \"%s\" needs %s",
								opts->server_name, option_names_together(creds->method->options))));

	if (creds->method == NULL && !superuser_arg(user->userid))
		ereport(ERROR,
				(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
				 errmsg("credential is required"),
				 errdetail("Non-superusers must give %s in the user mapping for server \"%s\".",
						   provider->nmethods == 1 ? provider->methods[0].description : "credentials",
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

/*
 * The value the column option "value" gives a column in every row of its
 * table (a partition's account, its region), or NULL.
 */
Const *
cf_fixed_value(Oid relid, Form_pg_attribute att)
{
	char	   *text = cf_column_option(relid, att->attnum, "value");
	Oid			typinput;
	Oid			typioparam;
	Datum		value;

	if (text == NULL)
		return NULL;
	getTypeInputInfo(att->atttypid, &typinput, &typioparam);
	value = OidInputFunctionCall(typinput, text, typioparam, att->atttypmod);
	return makeConst(att->atttypid, att->atttypmod, att->attcollation, att->attlen,
					 value, false, att->attbyval);
}

/* Whether a column has a fixed value (the column option "value"). */
bool
cf_column_is_fixed(Oid relid, AttrNumber attnum)
{
	return cf_column_option(relid, attnum, "value") != NULL;
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
	const CfProvider *provider = cf_server_provider(server);
	ListCell   *lc;

	foreach(lc, table->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (provider != NULL && strcmp(def->defname, "resource") == 0)
			return cf_find_resource(provider, defGetString(def));
	}
	return NULL;
}

