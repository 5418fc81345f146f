/*-------------------------------------------------------------------------
 *
 * registry.c
 *		  The cloud resources cloud_fdw knows, declared as constant data.
 *
 * A provider names its authentication methods, its error envelope and its
 * own options; a resource names its provider, its calls, where items sit
 * in answers and which fields it has.  The engine (scan, update, IMPORT
 * FOREIGN SCHEMA) reads nothing else, so a new resource is a new table here
 * (registry.h says what each field means).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "nodes/pg_list.h"

#include "cloud_fdw.h"

/* ----------------------------------------------------------------
 * Qoder cloud agents: environments
 * ----------------------------------------------------------------
 */
static const char *const qoder_token_options[] = {"token", NULL};

static const CfAuthMethod qoder_methods[] = {
	{"a token", qoder_token_options, NULL, cf_auth_bearer},
};

/* {"type":"error","error":{"type","message"}} */
static const CfErrorEnvelope qoder_envelope = {
	.nested = "error",
	.code_keys = (const char *const[]) {"type", NULL},
	.message_keys = (const char *const[]) {"message", NULL},
	.request_id_key = "request_id",
};

static const CfOptionDef qoder_options[] = {
	{"token", CF_ON_MAPPING, CF_OPT_STRING, .offset = -1, .is_credential = true},
};

static const CfProvider qoder_provider = {
	.name = "qoder",
	.methods = qoder_methods,
	.nmethods = lengthof(qoder_methods),
	.envelope = &qoder_envelope,
	.options = qoder_options,
	.noptions = lengthof(qoder_options),
};

/*
 * Cursor pages: {"data": [...], "has_more", "first_id", "last_id"}, plus
 * "next_page" in newer API generations.  The limit is 1..100.
 */
static const CfPagination qoder_pagination = {
	.style = CF_PAGE_CURSOR,
	.in = CF_IN_QUERY,
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
	{"config", "config", "jsonb", CF_COL_UPDATABLE | CF_COL_OBJECT},
	{"metadata", "metadata", "jsonb", CF_COL_UPDATABLE | CF_COL_OBJECT},
	{"archived_at", "archived_at", "timestamptz", 0},
	{"created_at", "created_at", "timestamptz", 0},
	{"updated_at", "updated_at", "timestamptz", 0},
};

static const CfCallParam qoder_environment_key[] = {
	{"id", CF_IN_PATH, "id", true},
};

/*
 * Newer API generations hide archived environments from listings unless
 * asked, while a get finds them: ask, so that every plan sees the same
 * rows.  The seed's generation ignores the parameter.
 */
static const CfCall qoder_environment_list = {
	.method = "GET",
	.path = "/environments",
	.fixed_query = "include_archived=true",
};

static const CfCall qoder_environment_get = {
	.method = "GET",
	.path = "/environments/{id}",
	.params = qoder_environment_key,
	.nparams = lengthof(qoder_environment_key),
	.returns_item = true,
};

/* The seed document's verb; newer API generations also accept POST. */
static const CfCall qoder_environment_update = {
	.method = "PUT",
	.path = "/environments/{id}",
	.params = qoder_environment_key,
	.nparams = lengthof(qoder_environment_key),
	.writes = true,
	.returns_item = true,
};

/* The update document: "config.type" (fixed "cloud") whenever config is sent. */
static const CfRequiredField qoder_environment_required[] = {
	{"config", "config.type", "cloud"},
};

static const CfResource qoder_environments = {
	.name = "environments",
	.provider = &qoder_provider,
	.default_endpoint = "https://openapi.qoder.sh/api/v1/cloud",
	.scope = CF_SCOPE_NONE,
	.list = &qoder_environment_list,
	.get = &qoder_environment_get,
	.update = &qoder_environment_update,
	.pagination = &qoder_pagination,
	.columns = qoder_environment_columns,
	.ncolumns = lengthof(qoder_environment_columns),
	.required_fields = qoder_environment_required,
	.nrequired_fields = lengthof(qoder_environment_required),
	.estimated_items = 100,
};

/* ----------------------------------------------------------------
 * Huawei Cloud
 * ----------------------------------------------------------------
 */
static const char *const huawei_token_options[] = {"auth_token", NULL};
static const char *const huawei_aksk_options[] = {"access_key", "secret_key", NULL};
static const char *const huawei_iam_options[] = {"user", "password", "domain_name", NULL};
static const char *const huawei_temporary_options[] = {"security_token", NULL};

static const CfAuthMethod huawei_methods[] = {
	{"a token", huawei_token_options, huawei_temporary_options, cf_auth_huawei_token},
	{"an AK/SK pair", huawei_aksk_options, huawei_temporary_options, cf_auth_huawei_signed},
	{"an IAM user", huawei_iam_options, NULL, cf_auth_huawei_iam,
	cf_auth_iam_login, cf_auth_iam_take},
};

/*
 * API Gateway: {"error_code","error_msg","request_id"}; EPS:
 * {"error":{"error_code","error_msg"}}; CodeArts: {"error":{"code",
 * "message"},"status":"failed"} or a top-level error_code; IAM:
 * {"error":{"code":401,"message","title"}}.
 */
static const CfErrorEnvelope huawei_envelope = {
	.nested = "error",
	.code_keys = (const char *const[]) {"error_code", "code", NULL},
	.message_keys = (const char *const[]) {"error_msg", "message", NULL},
	.request_id_key = "request_id",
};

static const CfOptionDef huawei_options[] = {
	{"region", CF_ON_SERVER, CF_OPT_STRING, .offset = -1, .check = cf_check_region},
	{"iam_endpoint", CF_ON_SERVER, CF_OPT_URL, .offset = -1,
	.default_value = "https://iam.myhuaweicloud.com"},
	/* the scope of AK/SK requests, which the account may share among its users */
	{"domain_id", CF_ON_SERVER | CF_ON_MAPPING, CF_OPT_STRING, .offset = -1},
	{"iam_project_id", CF_ON_SERVER | CF_ON_MAPPING, CF_OPT_STRING, .offset = -1},
	/* the IAM project an IAM user's token is scoped to; default: the region */
	{"project", CF_ON_MAPPING, CF_OPT_STRING, .offset = -1},
	{"auth_token", CF_ON_MAPPING, CF_OPT_STRING, .offset = -1, .is_credential = true},
	{"security_token", CF_ON_MAPPING, CF_OPT_STRING, .offset = -1, .is_credential = true},
	{"access_key", CF_ON_MAPPING, CF_OPT_STRING, .offset = -1, .is_credential = true},
	{"secret_key", CF_ON_MAPPING, CF_OPT_STRING, .offset = -1, .is_credential = true},
	{"user", CF_ON_MAPPING, CF_OPT_STRING, .offset = -1, .is_credential = true},
	{"password", CF_ON_MAPPING, CF_OPT_STRING, .offset = -1, .is_credential = true},
	{"domain_name", CF_ON_MAPPING, CF_OPT_STRING, .offset = -1, .is_credential = true},
};

static const CfProvider huawei_provider = {
	.name = "huaweicloud",
	.methods = huawei_methods,
	.nmethods = lengthof(huawei_methods),
	.envelope = &huawei_envelope,
	.options = huawei_options,
	.noptions = lengthof(huawei_options),
};

/*
 * CodeArts Deploy environments of an application: regional, project-scoped.
 * The list needs the application (in the path) and its CodeArts project
 * (not the IAM project) in the query; items do not repeat the application.
 */
static const CfPagination deploy_pagination = {
	.style = CF_PAGE_NUMBER,
	.in = CF_IN_QUERY,
	.items_path = "result",
	.limit_param = "page_size",
	.max_page_size = 100,
	.position_param = "page_index",
	.total_path = "total",
};

/* Names: 3-128 characters, CJK, letters, digits, "-", "_" and ".". */
static const CfTextRule deploy_name_rule = {3, 128, "-_.", true, NULL};
static const CfTextRule deploy_description_rule = {0, 500, NULL, true, NULL};

static const CfColumn deploy_environment_columns[] = {
	{"application_id", "application_id", "text", 0},
	{"id", "id", "text", CF_COL_KEY},
	{"name", "name", "text", CF_COL_UPDATABLE | CF_COL_NOT_NULL, &deploy_name_rule},
	{"description", "description", "text", CF_COL_UPDATABLE, &deploy_description_rule},
	{"os", "os", "text", 0},
	{"project_id", "project_id", "text", 0},
	{"nick_name", "nick_name", "text", 0},
	{"deploy_type", "deploy_type", "integer", 0},
	{"instance_count", "instance_count", "integer", 0},
	{"created_time", "created_time", "timestamptz", 0, NULL, "UTC"},
	{"created_by_id", "created_by.user_id", "text", 0},
	{"created_by_name", "created_by.user_name", "text", 0},
	{"can_view", "permission.can_view", "boolean", 0},
	{"can_edit", "permission.can_edit", "boolean", 0},
	{"can_delete", "permission.can_delete", "boolean", 0},
	{"can_deploy", "permission.can_deploy", "boolean", 0},
	{"can_manage", "permission.can_manage", "boolean", 0},
	{"created_by", "created_by", "jsonb", 0},
	{"permission", "permission", "jsonb", 0},
};

static const CfCallParam deploy_list_params[] = {
	{"application_id", CF_IN_PATH, "application_id", true},
	{"project_id", CF_IN_QUERY, "project_id", true, "codearts_project_id"},
};

static const CfCallParam deploy_item_params[] = {
	{"application_id", CF_IN_PATH, "application_id", true},
	{"id", CF_IN_PATH, "environment_id", true},
};

static const CfCall deploy_environment_list = {
	.method = "GET",
	.path = "/v1/applications/{application_id}/environments",
	.params = deploy_list_params,
	.nparams = lengthof(deploy_list_params),
};

static const CfCall deploy_environment_get = {
	.method = "GET",
	.path = "/v1/applications/{application_id}/environments/{environment_id}",
	.params = deploy_item_params,
	.nparams = lengthof(deploy_item_params),
	.item_path = "result",
	.returns_item = true,
};

/* Answers {"status":"success","id":...}: the row is got again afterwards. */
static const CfCall deploy_environment_update = {
	.method = "PUT",
	.path = "/v1/applications/{application_id}/environments/{environment_id}",
	.params = deploy_item_params,
	.nparams = lengthof(deploy_item_params),
	.writes = true,
	.returns_item = false,
};

static const CfResource deploy_environments = {
	.name = "deploy_environments",
	.provider = &huawei_provider,
	.default_endpoint = "https://codearts-deploy.{region}.myhuaweicloud.com",
	.scope = CF_SCOPE_PROJECT,
	.list = &deploy_environment_list,
	.get = &deploy_environment_get,
	.update = &deploy_environment_update,
	.refetch = &deploy_environment_get,
	.pagination = &deploy_pagination,
	.columns = deploy_environment_columns,
	.ncolumns = lengthof(deploy_environment_columns),
	.estimated_items = 20,
};

/*
 * CodeArts Deploy applications of a CodeArts project: a POST that reads,
 * with the project and the paging in its JSON body, answering {total_num,
 * result}.  Only the detail (the get) has a description.
 */
static const CfPagination deploy_app_pagination = {
	.style = CF_PAGE_NUMBER,
	.in = CF_IN_BODY,
	.items_path = "result",
	.limit_param = "size",
	.max_page_size = 100,
	.position_param = "page",
	.total_path = "total_num",
};

static const CfColumn deploy_application_columns[] = {
	{"id", "id", "text", CF_COL_KEY},
	{"name", "name", "text", 0},
	{"project_id", "project_id", "text", 0},
	{"project_name", "project_name", "text", 0},
	{"is_disable", "is_disable", "boolean", CF_COL_UPDATABLE},
	{"deploy_system", "deploy_system", "text", 0},
	{"execution_state", "execution_state", "text", 0},
	{"release_id", "release_id", "bigint", 0},
	{"duration", "duration", "text", 0},
	{"create_user_id", "create_user_id", "text", 0},
	{"create_time", "create_time", "timestamptz", 0, NULL, "UTC"},
	{"update_time", "update_time", "timestamptz", 0, NULL, "UTC"},
	{"arrange_infos", "arrange_infos", "jsonb", 0},
};

static const CfCallParam deploy_app_list_params[] = {
	{"project_id", CF_IN_BODY, "project_id", true, "codearts_project_id"},
};

static const CfCallParam deploy_app_item_params[] = {
	{"id", CF_IN_PATH, "app_id", true},
};

static const CfCall deploy_application_list = {
	.method = "POST",
	.path = "/v1/applications/list",
	.params = deploy_app_list_params,
	.nparams = lengthof(deploy_app_list_params),
};

static const CfCall deploy_application_get = {
	.method = "GET",
	.path = "/v1/applications/{app_id}/info",
	.params = deploy_app_item_params,
	.nparams = lengthof(deploy_app_item_params),
	.item_path = "result",
	.returns_item = true,
};

static const CfCall deploy_application_disable = {
	.method = "PUT",
	.path = "/v1/applications/{app_id}/disable",
	.params = deploy_app_item_params,
	.nparams = lengthof(deploy_app_item_params),
	.writes = true,
};

/* Disabling and enabling is a call of its own, answering {"status"}. */
static const CfFieldAction deploy_app_actions[] = {
	{"is_disable", "t", &deploy_application_disable, "{\"is_disable\":true}"},
	{"is_disable", "f", &deploy_application_disable, "{\"is_disable\":false}"},
};

static const CfResource deploy_applications = {
	.name = "deploy_applications",
	.provider = &huawei_provider,
	.default_endpoint = "https://codearts-deploy.{region}.myhuaweicloud.com",
	.scope = CF_SCOPE_PROJECT,
	.list = &deploy_application_list,
	.get = &deploy_application_get,
	.refetch = &deploy_application_get,
	.actions = deploy_app_actions,
	.nactions = lengthof(deploy_app_actions),
	.pagination = &deploy_app_pagination,
	.columns = deploy_application_columns,
	.ncolumns = lengthof(deploy_application_columns),
	.estimated_items = 20,
};

/*
 * Enterprise projects (EPS): a global service, domain-scoped.  "name" is a
 * fuzzy filter of the list call; PostgreSQL rechecks every qual anyway.
 */
static const CfPagination eps_pagination = {
	.style = CF_PAGE_OFFSET,
	.in = CF_IN_QUERY,
	.items_path = "enterprise_projects",
	.limit_param = "limit",
	.max_page_size = 1000,
	.position_param = "offset",
	.total_path = "total_count",
};

/* Names: 1-255 characters, CJK, letters, digits, "_" and "-", not "default". */
static const CfTextRule eps_name_rule = {1, 255, "_-", true, "default"};
static const CfTextRule eps_description_rule = {0, 512, NULL, true, NULL};

/* The documented enumerations: a filter on another value matches nothing. */
static const char *const eps_status_values[] = {"1", "2", NULL};
static const char *const eps_type_values[] = {"prod", "poc", NULL};

static const CfColumn enterprise_project_columns[] = {
	{"id", "id", "text", CF_COL_KEY},
	{"name", "name", "text", CF_COL_UPDATABLE | CF_COL_NOT_NULL, &eps_name_rule},
	{"description", "description", "text", CF_COL_UPDATABLE, &eps_description_rule},
	{"status", "status", "integer", CF_COL_UPDATABLE, .values = eps_status_values},
	{"type", "type", "text", CF_COL_UPDATABLE, .values = eps_type_values},
	{"created_at", "created_at", "timestamptz", 0},
	{"updated_at", "updated_at", "timestamptz", 0},
	{"delete_flag", "delete_flag", "boolean", 0},
};

static const CfCallParam eps_list_params[] = {
	{"id", CF_IN_QUERY, "id", false},
	{"name", CF_IN_QUERY, "name", false, NULL, true},
	{"status", CF_IN_QUERY, "status", false},
	{"type", CF_IN_QUERY, "type", false},
};

static const CfCallParam eps_item_params[] = {
	{"id", CF_IN_PATH, "id", true},
};

static const CfCall eps_list = {
	.method = "GET",
	.path = "/v1.0/enterprise-projects",
	.params = eps_list_params,
	.nparams = lengthof(eps_list_params),
};

static const CfCall eps_get = {
	.method = "GET",
	.path = "/v1.0/enterprise-projects/{id}",
	.params = eps_item_params,
	.nparams = lengthof(eps_item_params),
	.item_path = "enterprise_project",
	.returns_item = true,
};

static const CfCall eps_update = {
	.method = "PUT",
	.path = "/v1.0/enterprise-projects/{id}",
	.params = eps_item_params,
	.nparams = lengthof(eps_item_params),
	.writes = true,
	.item_path = "enterprise_project",
	.returns_item = true,
};

/* Status is changed by enable/disable, not by the update call. */
static const CfCall eps_action = {
	.method = "POST",
	.path = "/v1.0/enterprise-projects/{id}/action",
	.params = eps_item_params,
	.nparams = lengthof(eps_item_params),
	.writes = true,
};

/*
 * A disabled project cannot be modified (EPS.0014): enable it before the
 * update call, disable it after.
 */
static const CfFieldAction eps_status_actions[] = {
	{"status", "1", &eps_action, "{\"action\":\"enable\"}", true},
	{"status", "2", &eps_action, "{\"action\":\"disable\"}", false},
};

/* The update call wants the name in every body. */
static const CfRequiredField eps_required[] = {
	{NULL, "name", NULL},
};

static const CfResource enterprise_projects = {
	.name = "enterprise_projects",
	.provider = &huawei_provider,
	.default_endpoint = "https://eps.myhuaweicloud.com",
	.scope = CF_SCOPE_DOMAIN,
	.list = &eps_list,
	.get = &eps_get,
	.update = &eps_update,
	.refetch = &eps_get,
	.actions = eps_status_actions,
	.nactions = lengthof(eps_status_actions),
	.pagination = &eps_pagination,
	.columns = enterprise_project_columns,
	.ncolumns = lengthof(enterprise_project_columns),
	.required_fields = eps_required,
	.nrequired_fields = lengthof(eps_required),
	.estimated_items = 50,
	.fixed_key = "0",
	.fixed_key_reason = "It is the account's default enterprise project, which EPS does not let change.",
};

/*
 * The resources of an enterprise project, by type and region: a POST that
 * reads, paged in its body by offset.  Types and region projects are lists
 * in the body (one value per request here); a name is a fuzzy "matches"
 * filter, rechecked locally.  Regions or types that fail are reported in
 * errors[] inside a 200.
 */
static const CfPagination eps_resource_pagination = {
	.style = CF_PAGE_OFFSET,
	.in = CF_IN_BODY,
	.items_path = "resources",
	.limit_param = "limit",
	.max_page_size = 1000,
	.position_param = "offset",
	.total_path = "total_count",
	.partial_errors_path = "errors",
};

static const CfColumn eps_resource_columns[] = {
	{"enterprise_project_id", "enterprise_project_id", "text", CF_COL_UPDATABLE},
	{"project_id", "project_id", "text", 0},
	{"project_name", "project_name", "text", 0},
	{"resource_type", "resource_type", "text", 0},
	{"resource_id", "resource_id", "text", CF_COL_KEY},
	{"resource_name", "resource_name", "text", 0},
	{"resource_detail", "resource_detail", "jsonb", 0},
};

static const CfCallParam eps_resource_list_params[] = {
	{"enterprise_project_id", CF_IN_PATH, "enterprise_project_id", true},
	{"resource_type", CF_IN_BODY, "resource_types", true, .shape = CF_SHAPE_LIST},
	/* required, or a plan could list a region-level type without its region */
	{"project_id", CF_IN_BODY, "projects", true, .shape = CF_SHAPE_LIST, .empty_omits = true,
	.hint = "'' for global types such as cdn, which have no region project"},
	{"resource_name", CF_IN_BODY, "matches", false, .fuzzy = true,
	.shape = CF_SHAPE_MATCH, .match_key = "resource_name"},
};

static const CfCall eps_resource_list = {
	.method = "POST",
	.path = "/v1.0/enterprise-projects/{enterprise_project_id}/resources/filter",
	.params = eps_resource_list_params,
	.nparams = lengthof(eps_resource_list_params),
};

/* A move names its target in the path: the row's new enterprise project. */
static const CfCallParam eps_migrate_params[] = {
	{"enterprise_project_id", CF_IN_PATH, "target_id", true, .new_value = true},
	{"resource_id", CF_IN_BODY, "resource_id", true},
	{"resource_type", CF_IN_BODY, "resource_type", true},
	{"project_id", CF_IN_BODY, "project_id", false},
};

static const CfCall eps_resource_migrate = {
	.method = "POST",
	.path = "/v1.0/enterprise-projects/{target_id}/resources-migrate",
	.params = eps_migrate_params,
	.nparams = lengthof(eps_migrate_params),
	.writes = true,
};

static const CfFieldAction eps_resource_actions[] = {
	{"enterprise_project_id", NULL, &eps_resource_migrate},
};

static const CfResource enterprise_project_resources = {
	.name = "enterprise_project_resources",
	.provider = &huawei_provider,
	.default_endpoint = "https://eps.myhuaweicloud.com",
	.scope = CF_SCOPE_DOMAIN,
	.list = &eps_resource_list,
	.actions = eps_resource_actions,
	.nactions = lengthof(eps_resource_actions),
	.no_returning_reason = "EPS moves a resource asynchronously and answers 204 without it; "
	"a listing shows the move once EPS has applied it.",
	.pagination = &eps_resource_pagination,
	.columns = eps_resource_columns,
	.ncolumns = lengthof(eps_resource_columns),
	.estimated_items = 100,
};

/* ----------------------------------------------------------------
 * The tables the engine reads
 * ----------------------------------------------------------------
 */
static const CfProvider *const providers[] = {
	&qoder_provider,
	&huawei_provider,
};

static const CfResource *const resources[] = {
	&qoder_environments,
	&deploy_applications,
	&deploy_environments,
	&enterprise_projects,
	&enterprise_project_resources,
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

/* The resources of a provider, in declaration order, for IMPORT FOREIGN SCHEMA. */
List *
cf_provider_resources(const CfProvider *provider)
{
	List	   *result = NIL;

	for (int i = 0; i < lengthof(resources); i++)
		if (resources[i]->provider == provider)
			result = lappend(result, (void *) resources[i]);
	return result;
}

/* The resources of this name, whatever their provider. */
List *
cf_resources_named(const char *name)
{
	List	   *result = NIL;

	for (int i = 0; i < lengthof(resources); i++)
		if (strcmp(resources[i]->name, name) == 0)
			result = lappend(result, (void *) resources[i]);
	return result;
}

/* Whether a table option name supplies a call parameter of some resource. */
bool
cf_is_param_option(const char *name)
{
	for (int i = 0; i < lengthof(resources); i++)
	{
		const CfCall *list = resources[i]->list;

		for (int p = 0; p < list->nparams; p++)
			if (list->params[p].table_option != NULL &&
				strcmp(list->params[p].table_option, name) == 0)
				return true;
	}
	return false;
}

/* Comma-separated names of the table options that supply call parameters. */
char *
cf_param_option_names(void)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < lengthof(resources); i++)
	{
		const CfCall *list = resources[i]->list;

		for (int p = 0; p < list->nparams; p++)
		{
			const char *option = list->params[p].table_option;

			if (option != NULL &&
				strstr(psprintf(", %s, ", buf.data), psprintf(", %s, ", option)) == NULL)
				appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "", option);
		}
	}
	return buf.data;
}

/* Comma-separated values a field with action calls can be set to. */
char *
cf_action_values(const CfResource *resource, const char *field)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < resource->nactions; i++)
		if (strcmp(resource->actions[i].field, field) == 0 && resource->actions[i].value != NULL)
			appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "",
							 resource->actions[i].value);
	return buf.data;
}

/* The parameter of a call for a field, or NULL (also when there is no call). */
const CfCallParam *
cf_call_param(const CfCall *call, const char *field)
{
	for (int i = 0; call != NULL && i < call->nparams; i++)
		if (strcmp(call->params[i].field, field) == 0)
			return &call->params[i];
	return NULL;
}

/* Whether the list or get call of the resource takes a parameter for a field. */
bool
cf_is_param_field(const CfResource *resource, const char *field)
{
	return cf_call_param(resource->list, field) != NULL ||
		cf_call_param(resource->get, field) != NULL;
}

/* Whether UPDATE can change anything: an update call, or field actions. */
bool
cf_resource_is_updatable(const CfResource *resource)
{
	return resource->update != NULL || resource->nactions > 0;
}

/*
 * The definition of a provider's own option allowed where the bits say
 * (of whichever provider has it; *provider says which), or NULL.
 */
const CfOptionDef *
cf_find_provider_option(const char *name, int where, const CfProvider **provider)
{
	for (int p = 0; p < lengthof(providers); p++)
		for (int i = 0; i < providers[p]->noptions; i++)
			if ((providers[p]->options[i].where & where) &&
				strcmp(providers[p]->options[i].name, name) == 0)
			{
				if (provider)
					*provider = providers[p];
				return &providers[p]->options[i];
			}
	return NULL;
}

int
cf_provider_count(void)
{
	return lengthof(providers);
}

const CfProvider *
cf_provider_at(int index)
{
	return providers[index];
}

int
cf_resource_count(void)
{
	return lengthof(resources);
}

const CfResource *
cf_resource_at(int index)
{
	return resources[index];
}

/* ----------------------------------------------------------------
 * The registry's self-check, run by a regression test
 * ----------------------------------------------------------------
 */
static void
check_call(const CfResource *resource, const CfCall *call, const char *role,
		   bool paged, List **problems)
{
	const char *p = call->path;

	if (call->method == NULL || call->path == NULL || call->path[0] != '/')
	{
		*problems = lappend(*problems, psprintf("%s call has no method or no path starting with \"/\"", role));
		return;
	}
	if (strcmp(call->method, "GET") == 0 && (call->writes || call->fixed_body != NULL))
		*problems = lappend(*problems, psprintf("%s call is a GET that writes or sends a body", role));
	/* every {placeholder} has a path parameter, and every path parameter a placeholder */
	while ((p = strchr(p, '{')) != NULL)
	{
		const char *close = strchr(p, '}');
		bool		found = false;

		if (close == NULL)
		{
			*problems = lappend(*problems, psprintf("%s call path has an unclosed \"{\"", role));
			break;
		}
		for (int i = 0; i < call->nparams; i++)
			if (call->params[i].in == CF_IN_PATH &&
				strncmp(call->params[i].name, p + 1, close - p - 1) == 0 &&
				call->params[i].name[close - p - 1] == '\0')
				found = true;
		if (!found)
			*problems = lappend(*problems, psprintf("%s call path placeholder %.*s has no parameter",
													role, (int) (close - p + 1), p));
		p = close + 1;
	}
	for (int i = 0; i < call->nparams; i++)
	{
		const CfCallParam *param = &call->params[i];

		if (param->in == CF_IN_PATH &&
			strstr(call->path, psprintf("{%s}", param->name)) == NULL)
			*problems = lappend(*problems, psprintf("%s call parameter \"%s\" has no placeholder",
													role, param->name));
		if (param->in == CF_IN_PATH && (!param->required || param->empty_omits))
			*problems = lappend(*problems, psprintf("%s call path parameter \"%s\" is optional",
													role, param->name));
		if (param->in != CF_IN_BODY && param->shape != CF_SHAPE_SCALAR)
			*problems = lappend(*problems, psprintf("%s call parameter \"%s\" has a shape outside a body",
													role, param->name));
		if ((param->shape == CF_SHAPE_MATCH) != (param->match_key != NULL))
			*problems = lappend(*problems, psprintf("%s call parameter \"%s\" has a match key without its shape, or the shape without a key",
													role, param->name));
		if (cf_find_column(resource, param->field) == NULL)
			*problems = lappend(*problems, psprintf("%s call parameter \"%s\" is for field \"%s\", which no column declares",
													role, param->name, param->field));
		if (param->in == CF_IN_BODY && strcmp(call->method, "GET") == 0)
			*problems = lappend(*problems, psprintf("%s call is a GET with body parameter \"%s\"",
													role, param->name));
	}
	if (paged && resource->pagination->in == CF_IN_BODY && strcmp(call->method, "GET") == 0)
		*problems = lappend(*problems, psprintf("%s call is a GET paged in its body", role));
}

static bool
has_any_value_action(const CfResource *resource, const char *field)
{
	for (int i = 0; i < resource->nactions; i++)
		if (strcmp(resource->actions[i].field, field) == 0)
			return true;
	return false;
}

/*
 * What is wrong with a resource's declaration, as text, and how many calls
 * it declares: an empty list is a resource the engine can serve.
 */
List *
cf_registry_problems(const CfResource *resource, int *ncalls)
{
	const CfPagination *pg = resource->pagination;
	List	   *problems = NIL;
	int			nkeys = 0;

	*ncalls = 0;
	if (resource->list == NULL || pg == NULL)
		return list_make1("no list call, or no pagination");
	check_call(resource, resource->list, "list", true, &problems);
	(*ncalls)++;
	if (resource->list->writes)
		problems = lappend(problems, "the list call writes");
	if (resource->get != NULL)
	{
		check_call(resource, resource->get, "get", false, &problems);
		(*ncalls)++;
		if (resource->get->writes || !resource->get->returns_item)
			problems = lappend(problems, "the get call writes or returns no item");
	}
	if (resource->refetch != NULL && resource->refetch->writes)
		problems = lappend(problems, "the refetch call writes");
	if (resource->update != NULL)
	{
		check_call(resource, resource->update, "update", false, &problems);
		(*ncalls)++;
		if (!resource->update->writes)
			problems = lappend(problems, "the update call does not write");
		if (!resource->update->returns_item && resource->refetch == NULL &&
			resource->no_returning_reason == NULL)
			problems = lappend(problems, "the update answers no item, and nothing gets it again or says why");
	}
	for (int i = 0; i < resource->nactions; i++)
	{
		const CfFieldAction *action = &resource->actions[i];

		check_call(resource, action->call, psprintf("action on \"%s\"", action->field), false, &problems);
		(*ncalls)++;
		if (!action->call->writes)
			problems = lappend(problems, psprintf("the action on \"%s\" does not write", action->field));
		if (cf_find_column(resource, action->field) == NULL)
			problems = lappend(problems, psprintf("the action on \"%s\" is for no declared column", action->field));
	}
	for (int i = 0; i < resource->ncolumns; i++)
	{
		const CfColumn *col = &resource->columns[i];

		nkeys += (col->flags & CF_COL_KEY) != 0;
		if ((col->flags & CF_COL_UPDATABLE) && resource->update == NULL &&
			!has_any_value_action(resource, col->path))
			problems = lappend(problems, psprintf("column \"%s\" is updatable, but no call changes it", col->name));
	}
	if (nkeys != 1)
		problems = lappend(problems, psprintf("%d key columns instead of one", nkeys));
	if (pg->items_path == NULL || pg->limit_param == NULL || pg->max_page_size < 1)
		problems = lappend(problems, "pagination lacks its items, its limit or its page size");
	if (pg->style == CF_PAGE_CURSOR
		? (pg->has_more_path == NULL || pg->last_id_path == NULL || pg->after_id_param == NULL ||
		   (pg->next_page_path == NULL) != (pg->next_page_param == NULL) || pg->position_param != NULL)
		: (pg->position_param == NULL || pg->has_more_path != NULL || pg->next_page_path != NULL))
		problems = lappend(problems, "pagination does not fit its style");
	if (pg->in != CF_IN_QUERY && pg->in != CF_IN_BODY)
		problems = lappend(problems, "pagination is neither in the query nor in the body");
	return problems;
}

/* The declared field at exactly this path, or NULL. */
const CfColumn *
cf_find_column(const CfResource *resource, const char *path)
{
	for (int i = 0; i < resource->ncolumns; i++)
		if (strcmp(resource->columns[i].path, path) == 0)
			return &resource->columns[i];
	return NULL;
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

/* Whether a value is in the column's enumeration (any value when it has none). */
bool
cf_column_allows(const CfColumn *column, const char *value)
{
	if (column == NULL || column->values == NULL)
		return true;
	for (const char *const *v = column->values; *v; v++)
		if (strcmp(*v, value) == 0)
			return true;
	return false;
}

/* The column's enumeration, comma-separated, for messages. */
char *
cf_column_values(const CfColumn *column)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (const char *const *v = column->values; *v; v++)
		appendStringInfo(&buf, "%s\"%s\"", buf.len > 0 ? ", " : "", *v);
	return buf.data;
}
