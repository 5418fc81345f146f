/*-------------------------------------------------------------------------
 *
 * import.c
 *		  IMPORT FOREIGN SCHEMA: foreign tables written from the registry.
 *
 * The remote schema is the provider ("qoder", "huaweicloud"); each of its
 * resources becomes a table named after the resource, with the registry's
 * columns, types and JSON paths.  IMPORT's own OPTIONS become table options
 * of the tables that take them (codearts_project_id, page_size).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/defrem.h"
#include "foreign/fdwapi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"

#include "cloud_fdw.h"

/*
 * Import options every table takes; the rest must supply a call parameter.
 * (No endpoint: that is the server's.)
 */
static const char *const common_import_options[] = {"page_size"};

static bool
is_common_option(const char *name)
{
	for (int i = 0; i < lengthof(common_import_options); i++)
		if (strcmp(common_import_options[i], name) == 0)
			return true;
	return false;
}

/* Whether the resource's list call takes its parameter from this table option. */
static bool
resource_takes_option(const CfResource *resource, const char *name)
{
	for (int i = 0; i < resource->list->nparams; i++)
		if (resource->list->params[i].table_option != NULL &&
			strcmp(resource->list->params[i].table_option, name) == 0)
			return true;
	return false;
}

static bool
wanted(ImportForeignSchemaStmt *stmt, const char *name)
{
	ListCell   *lc;
	bool		listed = false;

	if (stmt->list_type == FDW_IMPORT_SCHEMA_ALL)
		return true;
	foreach(lc, stmt->table_list)
		if (strcmp(((RangeVar *) lfirst(lc))->relname, name) == 0)
			listed = true;
	return (stmt->list_type == FDW_IMPORT_SCHEMA_LIMIT_TO) == listed;
}

static char *
create_table_command(const CfResource *resource, ImportForeignSchemaStmt *stmt,
					 const char *server_name)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	appendStringInfo(&buf, "CREATE FOREIGN TABLE %s (\n", quote_identifier(resource->name));
	for (int i = 0; i < resource->ncolumns; i++)
	{
		const CfColumn *col = &resource->columns[i];

		appendStringInfo(&buf, "  %s %s", quote_identifier(col->name), col->type);
		if (strcmp(col->name, col->path) != 0)
			appendStringInfo(&buf, " OPTIONS (path %s)", quote_literal_cstr(col->path));
		appendStringInfoString(&buf, i < resource->ncolumns - 1 ? ",\n" : "\n");
	}
	appendStringInfo(&buf, ") SERVER %s OPTIONS (resource %s",
					 quote_identifier(server_name), quote_literal_cstr(resource->name));
	foreach(lc, stmt->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (is_common_option(def->defname) || resource_takes_option(resource, def->defname))
			appendStringInfo(&buf, ", %s %s", quote_identifier(def->defname),
							 quote_literal_cstr(defGetString(def)));
	}
	appendStringInfoString(&buf, ")");
	return buf.data;
}

List *
cf_import_foreign_schema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	ForeignServer *server = GetForeignServer(serverOid);
	const CfProvider *provider = cf_server_provider(server);
	List	   *commands = NIL;
	ListCell   *lc;

	if (provider == NULL || strcmp(stmt->remote_schema, provider->name) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_SCHEMA_NOT_FOUND),
				 errmsg("server \"%s\" has no remote schema \"%s\"",
						server->servername, stmt->remote_schema),
				 errhint("The remote schema is the server's provider: IMPORT FOREIGN SCHEMA %s FROM SERVER %s ...",
						 provider ? provider->name : "?", server->servername)));

	foreach(lc, stmt->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (!is_common_option(def->defname) && !cf_is_param_option(def->defname))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid IMPORT FOREIGN SCHEMA option \"%s\"", def->defname),
					 errhint("Valid options are: page_size, %s.", cf_param_option_names())));
	}

	foreach(lc, cf_provider_resources(provider))
	{
		const CfResource *resource = (const CfResource *) lfirst(lc);

		if (wanted(stmt, resource->name))
			commands = lappend(commands, create_table_command(resource, stmt, server->servername));
	}
	return commands;
}
