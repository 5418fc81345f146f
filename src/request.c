/*-------------------------------------------------------------------------
 *
 * request.c
 *		  What to ask the cloud API: item paths, list pages and the partial
 *		  bodies of updates, all derived from the registry.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "nodes/pg_list.h"

#include "cloud_fdw.h"

/* A value of the database encoding percent-encoded as the UTF-8 URLs carry. */
static void
append_encoded(StringInfo buf, const char *value)
{
	const char *utf8 = pg_server_to_any(value, strlen(value), PG_UTF8);

	cf_append_encoded(buf, utf8, strlen(utf8));
}

/*
 * Whether a key value can name an item at all: an empty, "." or ".." path
 * segment would address the collection or its parent instead.
 */
bool
cf_key_is_addressable(const char *key)
{
	return key[0] != '\0' && strcmp(key, ".") != 0 && strcmp(key, "..") != 0;
}

/* list_sort comparator of lists of C strings. */
int
cf_compare_strings(const ListCell *a, const ListCell *b)
{
	return strcmp((char *) lfirst(a), (char *) lfirst(b));
}

static void
append_param(StringInfo buf, const char *name, const char *value)
{
	if (buf->len > 0)
		appendStringInfoChar(buf, '&');
	append_encoded(buf, name);
	appendStringInfoChar(buf, '=');
	append_encoded(buf, value);
}

static const char *
param_value(const CfCallParam *param, const CfParamValue *values, int nvalues,
			const CfOptions *opts)
{
	for (int i = 0; i < nvalues; i++)
		if (strcmp(values[i].field, param->field) == 0)
			return values[i].value;
	if (param->table_option != NULL)
		return cf_param_option(opts, param->table_option);
	return NULL;
}

/* A string of the database encoding as a JSON string (JSON is UTF-8). */
static CfJson *
json_text(const char *value, MemoryContext cxt)
{
	const char *utf8 = pg_server_to_any(value, strlen(value), PG_UTF8);

	return cfj_new_string(utf8, strlen(utf8), cxt);
}

/* A body parameter's value in the shape the API wants. */
static CfJson *
shaped_value(const CfCallParam *param, const char *value, MemoryContext cxt)
{
	CfJson	   *element = json_text(value, cxt);
	CfJson	   *array;

	if (param->shape == CF_SHAPE_SCALAR)
		return element;
	array = cfj_new_array(cxt);
	if (param->shape == CF_SHAPE_MATCH)
	{
		CfJson	   *match = cfj_new_object(cxt);

		cfj_set_path(match, "key", json_text(param->match_key, cxt), cxt);
		cfj_set_path(match, "value", element, cxt);
		element = match;
	}
	cfj_array_append(array, element);
	return array;
}

/* The paging of a page as name=value pairs, in the query or the body. */
static void
add_paging(const CfPagination *pg, const CfPageCursor *cursor, StringInfo query,
		   CfJson *body, MemoryContext cxt)
{
	const char *names[2] = {pg->limit_param, NULL};
	char	   *values[2] = {psprintf("%d", cursor->page_size), NULL};

	if (pg->style != CF_PAGE_CURSOR)
	{
		names[1] = pg->position_param;
		values[1] = psprintf(INT64_FORMAT, cursor->position);
	}
	else if (cursor->cursor_param != NULL)
	{
		names[1] = cursor->cursor_param;
		values[1] = cursor->cursor_value;
	}
	for (int i = 0; i < 2 && names[i] != NULL; i++)
	{
		if (pg->in == CF_IN_QUERY)
			append_param(query, names[i], values[i]);
		else if (pg->style == CF_PAGE_CURSOR && i == 1)
			cfj_set_path(body, names[i], json_text(values[i], cxt), cxt);
		else
			cfj_set_path(body, names[i], cfj_new_number(values[i], cxt), cxt);
	}
}

/*
 * The request of a call with its parameters filled in: {placeholders} with
 * encoded values, the query parameters that have a value, the body members
 * (fixed ones first), and the paging of the cursor's page (NULL: none).  A
 * value shown as "{field}" is left for EXPLAIN, which describes requests
 * before their values are known.
 */
void
cf_build_request(const CfCall *call, const CfParamValue *values, int nvalues,
				 const CfOptions *opts, const CfPageCursor *cursor, bool explain,
				 CfRequest *req)
{
	MemoryContext cxt = CurrentMemoryContext;
	const CfPagination *pg = opts->resource->pagination;
	StringInfoData path;
	StringInfoData query;
	CfJson	   *body = NULL;
	const char *p = call->path;

	initStringInfo(&path);
	initStringInfo(&query);
	while (*p)
	{
		const char *open = strchr(p, '{');
		const char *close = open ? strchr(open, '}') : NULL;

		if (close == NULL)
		{
			appendStringInfoString(&path, p);
			break;
		}
		appendBinaryStringInfo(&path, p, open - p);
		for (int i = 0; i < call->nparams; i++)
		{
			const CfCallParam *param = &call->params[i];
			const char *value;

			if (param->in != CF_IN_PATH ||
				strncmp(param->name, open + 1, close - open - 1) != 0 ||
				param->name[close - open - 1] != '\0')
				continue;
			value = param_value(param, values, nvalues, opts);
			/* callers check that path values exist; EXPLAIN shows them missing */
			Assert(value != NULL || explain);
			if (value == NULL)
				appendStringInfo(&path, "{%s}", param->field);
			else
				append_encoded(&path, value);
		}
		p = close + 1;
	}

	if (call->fixed_query != NULL)
		appendStringInfoString(&query, call->fixed_query);
	if (call->fixed_body != NULL)
		body = cfj_parse(call->fixed_body, strlen(call->fixed_body), cxt);
	for (int i = 0; i < call->nparams; i++)
	{
		const CfCallParam *param = &call->params[i];
		const char *value = param_value(param, values, nvalues, opts);
		bool		placeholder = (value == NULL && explain && param->required);

		if (placeholder)
			value = psprintf("{%s}", param->field);
		if (value == NULL || param->in == CF_IN_PATH || (value[0] == '\0' && param->empty_omits))
			continue;
		if (param->in == CF_IN_QUERY)
		{
			if (placeholder)
				appendStringInfo(&query, "%s%s=%s", query.len > 0 ? "&" : "", param->name, value);
			else
				append_param(&query, param->name, value);
			continue;
		}
		if (body == NULL)
			body = cfj_new_object(cxt);
		cfj_set_path(body, param->name, shaped_value(param, value, cxt), cxt);
	}
	if (cursor != NULL)
	{
		if (pg->in == CF_IN_BODY && body == NULL)
			body = cfj_new_object(cxt);
		add_paging(pg, cursor, &query, body, cxt);
	}
	if (query.len > 0)
		appendStringInfo(&path, "?%s", query.data);

	req->method = call->method;
	req->path = path.data;
	req->body = body ? cfj_serialize(body) : NULL;
	req->writes = call->writes;
}

/* A request as EXPLAIN and messages show it: method, path, and body if any. */
char *
cf_request_text(const CfRequest *req)
{
	return psprintf("%s %s%s%s", req->method, req->path, req->body ? " " : "",
					req->body ? cf_utf8_to_display(req->body, strlen(req->body)) : "");
}

/* Position the cursor on the first page of a listing. */
void
cf_first_page(const CfResource *resource, int page_size, CfPageCursor *cursor)
{
	list_free_deep(cursor->seen);
	memset(cursor, 0, sizeof(CfPageCursor));
	cursor->page_size = page_size;
	cursor->position = (resource->pagination->style == CF_PAGE_NUMBER) ? 1 : 0;
}

/* The array of items of a list page; anything else is a broken response. */
const CfNode *
cf_page_items(const CfResource *resource, const CfNode *page)
{
	const char *path = resource->pagination->items_path;
	const CfNode *items = cfn_get(page, path);

	if (cfn_type(items) != CFJ_ARRAY)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("list response has no \"%s\" array", path),
				 errdetail("The response is a JSON %s%s.",
						   cfj_type_name(cfn_type(page)),
						   cfn_type(page) == CFJ_OBJECT
						   ? psprintf(" whose \"%s\" is a %s", path,
									  cfj_type_name(cfn_type(items)))
						   : "")));
	cfn_foreach_element(item, items)
		if (cfn_type(item) != CFJ_OBJECT)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("list response has an item that is not an object"),
					 errdetail("An item of \"%s\" is a JSON %s.", path,
							   cfj_type_name(cfn_type(item)))));
	return items;
}

static const char *
string_member(const CfNode *page, const char *path)
{
	const CfNode *value = path ? cfn_get(page, path) : NULL;
	size_t		len;

	return cfn_type(value) == CFJ_STRING ? cfn_cstring(value, &len) : NULL;
}

/*
 * Whether a listing saw this cursor (or page signature) before; if not, it
 * has now.  The list is kept sorted: a listing of many pages checks each
 * in a few comparisons.
 */
static bool
seen_before(CfPageCursor *cursor, const char *value)
{
	int			low = 0;
	int			high = list_length(cursor->seen);

	while (low < high)
	{
		int			mid = (low + high) / 2;
		int			cmp = strcmp(list_nth(cursor->seen, mid), value);

		if (cmp == 0)
			return true;
		if (cmp < 0)
			low = mid + 1;
		else
			high = mid;
	}
	cursor->seen = list_insert_nth(cursor->seen, low, pstrdup(value));
	return false;
}

/*
 * Cursor pages: the API says whether more follow (has_more) and how to get
 * them: the opaque next_page cursor when it sends one, else after_id =
 * last_id.  A cursor seen before would loop forever (and silently repeat
 * rows), so it is an error.
 */
static void
advance_by_cursor(const CfPagination *pg, const CfNode *page, int nitems,
				  CfPageCursor *cursor)
{
	const CfNode *has_more = cfn_get(page, pg->has_more_path);
	const char *next_page = string_member(page, pg->next_page_path);
	const char *last_id = string_member(page, pg->last_id_path);
	const char *value;

	if (next_page != NULL && next_page[0] == '\0')
		next_page = NULL;
	if (cfn_type(has_more) == CFJ_BOOL ? !cfn_bool(has_more) : next_page == NULL)
	{
		cursor->done = true;
		return;
	}

	value = next_page ? next_page : last_id;
	if (value == NULL || value[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("list response announces more pages but gives no cursor"),
				 errdetail("Neither \"%s\" nor \"%s\" is set on a page of %d items.",
						   pg->next_page_path, pg->last_id_path, nitems)));
	if (seen_before(cursor, value))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("list pagination loops: cursor \"%s\" was already followed", value),
				 errdetail("The cloud API returned a page cursor it had returned before; "
						   "following it would repeat rows without end.")));
	cursor->cursor_param = next_page ? pg->next_page_param : pg->after_id_param;
	cursor->cursor_value = pstrdup(value);
}

/* The key of an item of a page, as the answer writes it, or "" if it has none. */
static char *
item_key(const CfResource *resource, const CfNode *item)
{
	const CfNode *key = cfn_get(item, cf_key_column(resource)->path);
	size_t		len;
	const char *text;

	if (cfn_type(key) != CFJ_STRING && cfn_type(key) != CFJ_NUMBER)
		return "";
	text = cfn_text(key, &len);
	return pnstrdup(text, len);
}

/*
 * Counted pages (offset or page number): done at the total the API reports,
 * or, if it reports none, at the first short page.  An empty page always
 * ends the listing, so a wrong total cannot make it run forever.  A server
 * that ignores the position answers the same page again and again: a page
 * that begins and ends with the same items as an earlier one would repeat
 * rows, so it is an error, as a repeated cursor is.
 */
static void
advance_by_count(const CfResource *resource, const CfNode *page, const CfNode *items,
				 int nitems, CfPageCursor *cursor)
{
	const CfPagination *pg = resource->pagination;
	double		total = cf_page_total(resource, page);
	int			page_size = cursor->page_size;
	int64		fetched;

	if (nitems > 0)
	{
		char	   *signature = psprintf("%d|%s|%s", nitems,
										 item_key(resource, cfn_first(items)),
										 item_key(resource, cfn_array_get(items, nitems - 1)));

		if (seen_before(cursor, signature))
			ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("list pagination repeats a page at %s " INT64_FORMAT,
								pg->position_param, cursor->position),
						 errdetail("The cloud API answered the same %d items as for an earlier page; "
								   "it seems to ignore \"%s\", and going on would repeat rows.",
								   nitems, pg->position_param)));
	}

	if (pg->style == CF_PAGE_NUMBER)
	{
		fetched = (cursor->position - 1) * page_size + nitems;
		cursor->position++;
	}
	else
	{
		fetched = cursor->position + nitems;
		cursor->position = fetched;
	}

	if (nitems == 0 || (total >= 0 ? fetched >= (int64) total : nitems < page_size))
		cursor->done = true;
}

/* Work out the next page from the page just read and its items. */
void
cf_advance_cursor(const CfResource *resource, const CfNode *page, const CfNode *items,
				  CfPageCursor *cursor)
{
	int			nitems = cfn_count(items);

	if (resource->pagination->style == CF_PAGE_CURSOR)
		advance_by_cursor(resource->pagination, page, nitems, cursor);
	else
		advance_by_count(resource, page, items, nitems, cursor);
}

/* The number of items of all pages a page reports, or -1. */
double
cf_page_total(const CfResource *resource, const CfNode *page)
{
	const char *path = resource->pagination->total_path;
	const CfNode *total = path ? cfn_get(page, path) : NULL;

	return cfn_type(total) == CFJ_NUMBER ? strtod(cfn_number_text(total), NULL) : -1;
}

/*
 * Failures of a part of a listing (a region, a type) that a successful
 * answer reports inside: the rows of that part are missing, which is an
 * error, or a WARNING with the rows that came when the table says so.
 */
void
cf_check_partial_errors(const CfOptions *opts, const CfNode *page, const char *relname)
{
	const char *path = opts->resource->pagination->partial_errors_path;
	const CfNode *errors = path ? cfn_get(page, path) : NULL;
	int			n = cfn_type(errors) == CFJ_ARRAY ? cfn_count(errors) : 0;
	StringInfoData detail;

	if (n == 0)
		return;
	initStringInfo(&detail);
	cfn_foreach_element(error, errors)
		appendStringInfo(&detail, "%s%s", detail.len > 0 ? "; " : "",
						 cf_describe_error(opts->provider->envelope,
										   cfn_to_json(error, CurrentMemoryContext)));
	ereport(opts->on_partial_error == CF_PARTIAL_WARN ? WARNING : ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("cloud API could not list part of foreign table \"%s\"", relname),
			 errdetail_plural("%d part failed: %s.", "%d parts failed: %s.", n, n, detail.data),
			 opts->on_partial_error == CF_PARTIAL_WARN
			 ? errhint("The rows of the parts that failed are missing from the result.")
			 : errhint("Set table option \"on_partial_error\" to 'warn' to get the rows of the other parts.")));
}

/* The item in a call's answer, or NULL. */
const CfNode *
cf_answer_item(const CfCall *call, const CfNode *answer)
{
	const CfNode *item = call->item_path ? cfn_get(answer, call->item_path) : answer;

	return cfn_type(item) == CFJ_OBJECT ? item : NULL;
}

/* The value of a column of the old row at a path, or NULL if none covers it. */
static CfJson *
old_row_value(CfColumnMap *maps, int natts, const char *path,
			  Datum *oldvalues, bool *oldnulls, MemoryContext owner, bool *found)
{
	*found = false;
	for (AttrNumber attnum = 1; attnum <= natts; attnum++)
	{
		const char *colpath = cf_column_map_path(maps, attnum);
		size_t		len;
		CfJson	   *value;

		if (colpath == NULL)
			continue;
		len = strlen(colpath);
		if (strcmp(colpath, path) == 0)
		{
			*found = !oldnulls[attnum - 1];
			return cf_datum_to_json(maps, attnum, oldvalues[attnum - 1],
									oldnulls[attnum - 1], owner);
		}
		if (strncmp(path, colpath, len) == 0 && path[len] == '.' &&
			cf_column_map_is_json(maps, attnum) && !oldnulls[attnum - 1])
		{
			value = cf_datum_to_json(maps, attnum, oldvalues[attnum - 1], false, owner);
			*found = cfj_has(value, path + len + 1);
			if (*found)
				return cfj_get(value, path + len + 1);
		}
	}
	return NULL;
}

/* A field that changes through an action call, or NULL. */
static const CfFieldAction *
field_action(const CfResource *resource, const char *field, const char *value, bool *has_actions)
{
	*has_actions = false;
	for (int i = 0; i < resource->nactions; i++)
	{
		if (strcmp(resource->actions[i].field, field) != 0)
			continue;
		*has_actions = true;
		if (value != NULL &&
			(resource->actions[i].value == NULL || strcmp(resource->actions[i].value, value) == 0))
			return &resource->actions[i];
	}
	return NULL;
}

/* CJK ideographs: the unified blocks with their extensions, and the compatibility ones. */
static bool
is_cjk_ideograph(pg_wchar c)
{
	return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
		(c >= 0x20000 && c <= 0x323AF) || (c >= 0xF900 && c <= 0xFAFF) ||
		(c >= 0x2F800 && c <= 0x2FA1F);
}

/* Whether a UTF-8 character may appear under a text rule. */
static bool
rule_allows(const CfTextRule *rule, const unsigned char *c)
{
	if (*c >= 0x80)
		return rule->allow_cjk && is_cjk_ideograph(utf8_to_unicode(c));
	if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9'))
		return true;
	return rule->allowed_ascii == NULL || strchr(rule->allowed_ascii, *c) != NULL;
}

/*
 * The API's rules for a text field, checked before anything is sent, on
 * the UTF-8 the API will see (so characters are the API's characters).
 */
static void
check_text_rule(const CfTextRule *rule, const char *column, const char *server_value)
{
	const char *value = pg_server_to_any(server_value, strlen(server_value), PG_UTF8);
	int			nchars = 0;

	for (const char *c = value; *c; c += pg_utf_mblen((const unsigned char *) c))
		nchars++;

	if (nchars < rule->min_chars || nchars > rule->max_chars)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for column \"%s\"", column),
				 errdetail("The value has %d characters; the cloud API accepts %d to %d.",
						   nchars, rule->min_chars, rule->max_chars)));
	for (const char *c = value; *c; c += pg_utf_mblen((const unsigned char *) c))
		if (!rule_allows(rule, (const unsigned char *) c))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for column \"%s\"", column),
					 errdetail("The cloud API does not accept the character \"%s\"; it accepts ASCII letters, digits%s%s%s.",
							   cf_utf8_to_display(c, pg_utf_mblen((const unsigned char *) c)),
							   rule->allow_cjk ? ", CJK ideographs" : "",
							   rule->allowed_ascii ? " and " : "",
							   rule->allowed_ascii ? psprintf("\"%s\"", rule->allowed_ascii) : "")));
	if (rule->forbidden != NULL && pg_strcasecmp(value, rule->forbidden) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for column \"%s\"", column),
				 errdetail("The cloud API reserves \"%s\" in any letter case.", rule->forbidden)));
}

/*
 * What the registry says of a field's value, checked before anything is
 * sent: the API's own checks would refuse it remotely, one row at a time.
 */
static void
check_declared_value(const CfResource *resource, const CfColumn *decl, CfColumnMap *maps,
					 AttrNumber attnum, Datum value, bool isnull)
{
	const char *column = cf_column_map_name(maps, attnum);
	char	   *text;

	if (isnull)
	{
		if (decl->flags & CF_COL_NOT_NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for column \"%s\"", column),
					 errdetail("The cloud API requires a value for \"%s\" of resource \"%s\": it cannot be set to null.",
							   decl->path, resource->name)));
		return;
	}
	text = cf_datum_to_text(maps, attnum, value);
	if (!cf_column_allows(decl, text))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for column \"%s\": \"%s\"", column, text),
				 errdetail("The cloud API accepts only %s for \"%s\" of resource \"%s\".",
						   cf_column_values(decl), decl->path, resource->name)));
	if (decl->rule != NULL)
		check_text_rule(decl->rule, column, text);
}

/* One call of a row, in the row's memory. */
static CfRowCall *
row_call(const CfCall *call, const char *body)
{
	CfRowCall  *rc = palloc(sizeof(CfRowCall));

	rc->call = call;
	rc->body = body;
	return rc;
}

/*
 * The calls one updated row makes, in order (CfRowCall; NIL: nothing
 * changed, nothing is sent).  The update call's body holds the updated
 * columns whose value changed, at their JSON paths (shallow paths first,
 * so that a jsonb column and a column inside it combine), jsonb objects as
 * merge patches against the old value, plus the fields the API requires
 * alongside them.  Fields with calls of their own (EPS status, a move)
 * become those calls instead, before or after the update.
 */
void
cf_plan_row_update(const CfResource *resource, CfColumnMap *maps,
				   List *target_attrs, int natts,
				   Datum *oldvalues, bool *oldnulls,
				   Datum *newvalues, bool *newnulls,
				   MemoryContext owner, List **calls)
{
	CfJson	   *body = cfj_new_object(owner);
	bool		changed = false;
	List	   *before = NIL;
	List	   *after = NIL;
	ListCell   *lc;

	*calls = NIL;
	foreach(lc, target_attrs)
	{
		AttrNumber	attnum = lfirst_int(lc);
		int			i = attnum - 1;
		const char *path = cf_column_map_path(maps, attnum);
		const CfColumn *decl = cf_find_column(resource, path);
		const CfFieldAction *action;
		bool		has_actions;
		CfJson	   *value;

		if (oldnulls[i] == newnulls[i] &&
			(newnulls[i] || cf_datums_equal(maps, attnum, oldvalues[i], newvalues[i])))
			continue;

		action = field_action(resource, path,
							  newnulls[i] ? NULL : cf_datum_to_text(maps, attnum, newvalues[i]),
							  &has_actions);
		if (has_actions)
		{
			if (action == NULL)
				ereport(ERROR,
						(errcode(newnulls[i] ? ERRCODE_NULL_VALUE_NOT_ALLOWED
								 : ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for column \"%s\"", cf_column_map_name(maps, attnum)),
						 cf_action_values(resource, path)[0] == '\0'
						 ? errdetail("Resource \"%s\" cannot set \"%s\" to null.", resource->name, path)
						 : errdetail("Resource \"%s\" can set \"%s\" only to: %s.",
									 resource->name, path, cf_action_values(resource, path))));
			if (action->before_update)
				before = lappend(before, row_call(action->call, action->body));
			else
				after = lappend(after, row_call(action->call, action->body));
			continue;
		}

		if (decl != NULL)
			check_declared_value(resource, decl, maps, attnum, newvalues[i], newnulls[i]);
		value = cf_datum_to_json(maps, attnum, newvalues[i], newnulls[i], owner);
		if (decl != NULL && (decl->flags & CF_COL_OBJECT) && !newnulls[i] &&
			cfj_type(value) != CFJ_OBJECT)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for column \"%s\"", cf_column_map_name(maps, attnum)),
					 errdetail("The cloud API wants a JSON object for \"%s\" of resource \"%s\", not a JSON %s.",
							   path, resource->name, cfj_type_name(cfj_type(value)))));
		if (cf_column_map_is_json(maps, attnum) && !oldnulls[i])
			value = cfj_merge_diff(cf_datum_to_json(maps, attnum, oldvalues[i], false, owner),
								   value, owner);
		if (!cfj_set_path(body, path, value, owner))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("more than one updated column writes the JSON field \"%s\"", path),
					 errhint("Update either the jsonb column or the columns mapped inside it, not both.")));
		changed = true;
	}
	if (!changed)
	{
		*calls = list_concat(before, after);
		return;
	}

	for (int r = 0; r < resource->nrequired_fields; r++)
	{
		const CfRequiredField *rf = &resource->required_fields[r];
		CfJson	   *value;
		bool		found;

		/* a null or scalar "config" is the API's to judge, not ours */
		if ((rf->when_path != NULL && cfj_type(cfj_get(body, rf->when_path)) != CFJ_OBJECT) ||
			cfj_has(body, rf->path))
			continue;
		value = old_row_value(maps, natts, rf->path, oldvalues, oldnulls, owner, &found);
		if (!found && rf->default_value == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
					 errmsg("an update of resource \"%s\" must send field \"%s\"",
							resource->name, rf->path),
					 errhint("Add a column mapped to JSON path \"%s\" to the foreign table.", rf->path)));
		if (!found)
			value = cfj_new_string(rf->default_value, strlen(rf->default_value), owner);
		if (!cfj_set_path(body, rf->path, value, owner))
			elog(ERROR, "could not add required field \"%s\"", rf->path);
	}
	*calls = list_concat(lappend(before, row_call(resource->update, cfj_serialize(body))), after);
}
