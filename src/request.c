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
#include "nodes/pg_list.h"

#include "cloud_fdw.h"

/*
 * Percent-encode everything but RFC 3986's unreserved characters, so that a
 * value can never leave its path segment or query parameter ("a/b?c" and
 * "../x" stay one opaque segment).
 */
static void
append_encoded(StringInfo buf, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *) value; *p; p++)
	{
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			(*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
			*p == '_' || *p == '~')
			appendStringInfoChar(buf, (char) *p);
		else
		{
			appendStringInfoChar(buf, '%');
			appendStringInfoChar(buf, hex[*p >> 4]);
			appendStringInfoChar(buf, hex[*p & 0x0F]);
		}
	}
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

/* Fill the {placeholder} of a path template with the encoded key value. */
char *
cf_item_path(const char *template, const char *key_value)
{
	StringInfoData buf;
	const char *open = strchr(template, '{');
	const char *close = open ? strchr(open, '}') : NULL;

	if (close == NULL)
		elog(ERROR, "path template \"%s\" has no placeholder", template);
	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, template, open - template);
	append_encoded(&buf, key_value);
	appendStringInfoString(&buf, close + 1);
	return buf.data;
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

/* The query string of the first list page. */
char *
cf_first_page_query(const CfResource *resource, int page_size)
{
	StringInfoData buf;

	initStringInfo(&buf);
	append_param(&buf, resource->pagination->limit_param, psprintf("%d", page_size));
	return buf.data;
}

/* The array of items of a list page; anything else is a broken response. */
CfJson *
cf_page_items(const CfResource *resource, const CfJson *page)
{
	const char *path = resource->pagination->items_path;
	CfJson	   *items = cfj_get(page, path);

	if (cfj_type(items) != CFJ_ARRAY)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("list response has no \"%s\" array", path),
				 errdetail("The response is a JSON %s%s.",
						   cfj_type_name(cfj_type(page)),
						   cfj_type(page) == CFJ_OBJECT
						   ? psprintf(" whose \"%s\" is a %s", path,
									  cfj_type_name(cfj_type(items)))
						   : "")));
	return items;
}

static const char *
string_member(const CfJson *page, const char *path)
{
	CfJson	   *value = path ? cfj_get(page, path) : NULL;
	size_t		len;

	if (cfj_type(value) != CFJ_STRING)
		return NULL;
	return cfj_string(value, &len);
}

/*
 * Work out the next page from the page just read.  The API says whether more
 * follow (has_more) and how to get them: the opaque next_page cursor when it
 * sends one, else after_id=last_id.  A cursor seen before would loop forever
 * (and silently repeat rows), so it is an error.
 */
void
cf_advance_cursor(const CfResource *resource, int page_size, const CfJson *page,
				  int nitems, CfPageCursor *cursor)
{
	const CfPagination *pg = resource->pagination;
	CfJson	   *has_more = cfj_get(page, pg->has_more_path);
	const char *next_page = string_member(page, pg->next_page_path);
	const char *last_id = string_member(page, pg->last_id_path);
	const char *param;
	const char *value;
	StringInfoData buf;
	ListCell   *lc;

	if (next_page != NULL && next_page[0] == '\0')
		next_page = NULL;

	if (cfj_type(has_more) == CFJ_BOOL ? !cfj_bool(has_more) : next_page == NULL)
	{
		cursor->next_query = NULL;
		return;
	}

	param = next_page ? pg->next_page_param : pg->after_id_param;
	value = next_page ? next_page : last_id;
	if (value == NULL || value[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("list response announces more pages but gives no cursor"),
				 errdetail("Neither \"%s\" nor \"%s\" is set on a page of %d items.",
						   pg->next_page_path, pg->last_id_path, nitems)));

	foreach(lc, cursor->seen)
		if (strcmp((char *) lfirst(lc), value) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("list pagination loops: cursor \"%s\" was already followed", value),
					 errdetail("The cloud API returned a page cursor it had returned before; "
							   "following it would repeat rows without end.")));
	cursor->seen = lappend(cursor->seen, pstrdup(value));

	initStringInfo(&buf);
	append_param(&buf, pg->limit_param, psprintf("%d", page_size));
	append_param(&buf, param, value);
	cursor->next_query = buf.data;
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

/*
 * The partial update body of one row: the updated columns whose value
 * changed, at their JSON paths (shallow paths first, so that a jsonb column
 * and a column inside it combine), jsonb objects as merge patches against
 * the old value, plus the fields the API requires alongside them.  NULL when
 * nothing changed: then nothing is sent.
 */
CfJson *
cf_build_update_body(const CfResource *resource, CfColumnMap *maps,
					 List *target_attrs, int natts,
					 Datum *oldvalues, bool *oldnulls,
					 Datum *newvalues, bool *newnulls, MemoryContext owner)
{
	CfJson	   *body = cfj_new_object(owner);
	bool		changed = false;
	ListCell   *lc;

	foreach(lc, target_attrs)
	{
		AttrNumber	attnum = lfirst_int(lc);
		int			i = attnum - 1;
		CfJson	   *value;

		if (oldnulls[i] == newnulls[i] &&
			(newnulls[i] || cf_datums_equal(maps, attnum, oldvalues[i], newvalues[i])))
			continue;

		value = cf_datum_to_json(maps, attnum, newvalues[i], newnulls[i], owner);
		if (cf_column_map_is_json(maps, attnum) && !oldnulls[i])
			value = cfj_merge_diff(cf_datum_to_json(maps, attnum, oldvalues[i], false, owner),
								   value, owner);
		if (!cfj_set_path(body, cf_column_map_path(maps, attnum), value, owner))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("more than one updated column writes the JSON field \"%s\"",
							cf_column_map_path(maps, attnum)),
					 errhint("Update either the jsonb column or the columns mapped inside it, not both.")));
		changed = true;
	}
	if (!changed)
		return NULL;

	for (int r = 0; r < resource->nrequired_fields; r++)
	{
		const CfRequiredField *rf = &resource->required_fields[r];
		CfJson	   *value;
		bool		found;

		/* a null or scalar "config" is the API's to judge, not ours */
		if (cfj_type(cfj_get(body, rf->when_path)) != CFJ_OBJECT ||
			cfj_has(body, rf->path))
			continue;
		value = old_row_value(maps, natts, rf->path, oldvalues, oldnulls, owner, &found);
		if (!found)
			value = cfj_new_string(rf->default_value, strlen(rf->default_value), owner);
		if (!cfj_set_path(body, rf->path, value, owner))
			elog(ERROR, "could not add required field \"%s\"", rf->path);
	}
	return body;
}
