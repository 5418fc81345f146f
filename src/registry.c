/*-------------------------------------------------------------------------
 *
 * registry.c
 *		  The cloud resources cloud_fdw knows, declared as constant data.
 *
 * A resource names its provider, its list/get/update calls, where items sit
 * in responses and which fields it has.  The engine (scan, update, IMPORT
 * FOREIGN SCHEMA) reads nothing else, so a new resource is a new table here.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"

#include "cloud_fdw.h"

/* ----------------------------------------------------------------
 * Qoder cloud agents: environments
 * ----------------------------------------------------------------
 */
static const CfProvider qoder_provider = {
	.name = "qoder",
	.default_endpoint = "https://openapi.qoder.sh/api/v1/cloud",
	.auth = CF_AUTH_BEARER,
};

/*
 * Cursor pages: {"data": [...], "has_more", "first_id", "last_id"}, plus
 * "next_page" in newer API generations.  The limit is 1..100.
 */
static const CfPagination qoder_pagination = {
	.style = CF_PAGE_CURSOR,
	.items_path = "data",
	.limit_param = "limit",
	.max_page_size = 100,
	.has_more_path = "has_more",
	.next_page_path = "next_page",
	.next_page_param = "page",
	.last_id_path = "last_id",
	.after_id_param = "after_id",
};

static const CfColumn qoder_environment_columns[] = {
	{"id", "id", "text", CF_COL_KEY},
	{"type", "type", "text", 0},
	{"name", "name", "text", CF_COL_UPDATABLE},
	{"description", "description", "text", CF_COL_UPDATABLE},
	{"status", "status", "text", 0},
	{"archived", "archived", "boolean", 0},
	{"networking_type", "config.networking.type", "text", CF_COL_UPDATABLE},
	{"allowed_hosts", "config.networking.allowed_hosts", "text[]", CF_COL_UPDATABLE},
	{"allow_package_managers", "config.networking.allow_package_managers", "boolean", CF_COL_UPDATABLE},
	{"apt_packages", "config.packages.apt", "text[]", CF_COL_UPDATABLE},
	{"pip_packages", "config.packages.pip", "text[]", CF_COL_UPDATABLE},
	{"npm_packages", "config.packages.npm", "text[]", CF_COL_UPDATABLE},
	{"config", "config", "jsonb", CF_COL_UPDATABLE},
	{"metadata", "metadata", "jsonb", CF_COL_UPDATABLE},
	{"archived_at", "archived_at", "timestamptz", 0},
	{"created_at", "created_at", "timestamptz", 0},
	{"updated_at", "updated_at", "timestamptz", 0},
};

/* The update document: "config.type" (fixed "cloud") whenever config is sent. */
static const CfRequiredField qoder_environment_required[] = {
	{"config", "config.type", "cloud"},
};

static const CfResource qoder_environments = {
	.name = "environments",
	.provider = &qoder_provider,
	.list_path = "/environments",
	.get_path = "/environments/{id}",
	.get_item_path = NULL,
	.update_method = "PUT",
	.update_path = "/environments/{id}",
	.update_item_path = NULL,
	.pagination = &qoder_pagination,
	.columns = qoder_environment_columns,
	.ncolumns = lengthof(qoder_environment_columns),
	.required_fields = qoder_environment_required,
	.nrequired_fields = lengthof(qoder_environment_required),
	.estimated_items = 100,
};

/* ----------------------------------------------------------------
 * The tables the engine reads
 * ----------------------------------------------------------------
 */
static const CfProvider *const providers[] = {
	&qoder_provider,
};

static const CfResource *const resources[] = {
	&qoder_environments,
};

const CfProvider *
cf_find_provider(const char *name)
{
	for (int i = 0; i < lengthof(providers); i++)
		if (strcmp(providers[i]->name, name) == 0)
			return providers[i];
	return NULL;
}

const CfResource *
cf_find_resource(const CfProvider *provider, const char *name)
{
	for (int i = 0; i < lengthof(resources); i++)
		if (resources[i]->provider == provider &&
			strcmp(resources[i]->name, name) == 0)
			return resources[i];
	return NULL;
}

/* Whether any provider has a resource of this name (the validator's check). */
bool
cf_resource_exists(const char *name)
{
	for (int i = 0; i < lengthof(resources); i++)
		if (strcmp(resources[i]->name, name) == 0)
			return true;
	return false;
}

/* Comma-separated names, for hints. */
char *
cf_provider_names(void)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < lengthof(providers); i++)
		appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "", providers[i]->name);
	return buf.data;
}

/* Comma-separated resource names of one provider, or of all when NULL. */
char *
cf_resource_names(const CfProvider *provider)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < lengthof(resources); i++)
		if (provider == NULL || resources[i]->provider == provider)
			appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "",
							 resources[i]->name);
	return buf.data;
}

const CfColumn *
cf_key_column(const CfResource *resource)
{
	for (int i = 0; i < resource->ncolumns; i++)
		if (resource->columns[i].flags & CF_COL_KEY)
			return &resource->columns[i];
	elog(ERROR, "resource \"%s\" declares no key column", resource->name);
	pg_unreachable();
}

/*
 * The declared field that decides about a path: the field itself, or its
 * nearest declared ancestor ("config.setup_script" is governed by "config").
 * NULL when the registry knows nothing of the path.
 */
const CfColumn *
cf_governing_column(const CfResource *resource, const char *path)
{
	const CfColumn *best = NULL;
	size_t		bestlen = 0;

	for (int i = 0; i < resource->ncolumns; i++)
	{
		const char *declared = resource->columns[i].path;
		size_t		len = strlen(declared);

		if (strncmp(path, declared, len) == 0 &&
			(path[len] == '\0' || path[len] == '.') &&
			len > bestlen)
		{
			best = &resource->columns[i];
			bestlen = len;
		}
	}
	return best;
}
