/*-------------------------------------------------------------------------
 *
 * convert.c
 *		  JSON values to column values and back.
 *
 * Each column is read from its JSON path and converted according to the
 * column's type, strictly: a JSON value that cannot become that type is an
 * error naming the column and the value, never a silent NULL.  Missing
 * fields and JSON nulls are SQL NULLs.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "cloud_fdw.h"

/* Longest value excerpt quoted in an error. */
#define VALUE_EXCERPT 80

typedef enum CfKind
{
	CF_KIND_TEXT,				/* text-like: any JSON value is accepted */
	CF_KIND_BOOL,				/* JSON booleans only */
	CF_KIND_NUMBER,				/* JSON numbers, or strings holding one */
	CF_KIND_JSON,				/* json, jsonb: any JSON value */
	CF_KIND_DATETIME,			/* JSON strings in ISO 8601 */
	CF_KIND_ARRAY,				/* JSON arrays, element by element */
	CF_KIND_OTHER				/* other types: through their input function */
} CfKind;

typedef struct CfTypeConv
{
	Oid			typid;
	int32		typmod;
	CfKind		kind;
	Oid			basetype;		/* typid with domains resolved */
	FmgrInfo	input;
	Oid			ioparam;
	FmgrInfo	output;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	const char *zone;			/* CF_KIND_DATETIME: zone of zoneless strings */
	struct CfTypeConv *element; /* CF_KIND_ARRAY only */
} CfTypeConv;

typedef struct CfColumnConv
{
	bool		used;
	const char *name;
	const char *path;
	Const	   *fixed;			/* the column's value in every row, or NULL */
	CfTypeConv	type;
} CfColumnConv;

struct CfColumnMap
{
	const char *relname;
	const char *key_path;
	int			natts;
	CfColumnConv *columns;		/* indexed by attnum - 1 */
	/* what is being converted, for the error context */
	const CfColumnConv *current;
	const CfJson *current_value;
	const CfJson *current_item;
};

static CfKind
kind_of(Oid basetype)
{
	switch (basetype)
	{
		case BOOLOID:
			return CF_KIND_BOOL;
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
		case OIDOID:
			return CF_KIND_NUMBER;
		case JSONOID:
		case JSONBOID:
			return CF_KIND_JSON;
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
		case NAMEOID:
			return CF_KIND_TEXT;
		case DATEOID:
		case TIMEOID:
		case TIMETZOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return CF_KIND_DATETIME;
	}
	return CF_KIND_OTHER;
}

static void
init_type_conv(CfTypeConv *conv, Oid typid, int32 typmod)
{
	Oid			infunc;
	Oid			outfunc;
	bool		isvarlena;
	Oid			element;

	conv->typid = typid;
	conv->typmod = typmod;
	conv->basetype = getBaseType(typid);
	element = get_element_type(conv->basetype);
	conv->kind = OidIsValid(element) ? CF_KIND_ARRAY : kind_of(conv->basetype);

	getTypeInputInfo(typid, &infunc, &conv->ioparam);
	fmgr_info(infunc, &conv->input);
	getTypeOutputInfo(typid, &outfunc, &isvarlena);
	fmgr_info(outfunc, &conv->output);
	get_typlenbyvalalign(typid, &conv->typlen, &conv->typbyval, &conv->typalign);

	if (conv->kind == CF_KIND_ARRAY)
	{
		conv->element = palloc0(sizeof(CfTypeConv));
		init_type_conv(conv->element, element, -1);
	}
}

/*
 * Conversion state for the columns of a foreign table.  attrs lists the
 * attribute numbers a scan needs; NULL means all of them.
 */
CfColumnMap *
cf_column_maps(Relation rel, const CfResource *resource, Bitmapset *attrs)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	CfColumnMap *maps = palloc0(sizeof(CfColumnMap));

	maps->relname = pstrdup(RelationGetRelationName(rel));
	maps->key_path = cf_key_column(resource)->path;
	maps->natts = tupdesc->natts;
	maps->columns = palloc0(sizeof(CfColumnConv) * tupdesc->natts);

	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		CfColumnConv *col = &maps->columns[i];

		if (att->attisdropped)
			continue;
		col->name = pstrdup(NameStr(att->attname));
		col->path = cf_column_path(RelationGetRelid(rel), att->attnum);
		col->used = (attrs == NULL || bms_is_member(att->attnum, attrs));
		col->fixed = cf_fixed_value(RelationGetRelid(rel), att);
		if (col->used)
			init_type_conv(&col->type, att->atttypid, att->atttypmod);
		col->type.zone = cf_column_option(RelationGetRelid(rel), att->attnum, "timezone");
		if (col->type.zone == NULL && cf_find_column(resource, col->path) != NULL)
			col->type.zone = cf_find_column(resource, col->path)->zone;
	}
	return maps;
}

static char *
value_excerpt(const CfJson *value)
{
	char	   *text = cfj_serialize(value);
	int			len = strlen(text);

	if (len <= VALUE_EXCERPT)
		return text;
	len = pg_mbcliplen(text, len, VALUE_EXCERPT);
	return psprintf("%.*s...", len, text);
}

static void
conversion_context(void *arg)
{
	CfColumnMap *maps = (CfColumnMap *) arg;
	const CfJson *key = cfj_get(maps->current_item, maps->key_path);
	size_t		len;

	if (maps->current == NULL)
		return;
	if (cfj_type(key) == CFJ_STRING)
		errcontext("column \"%s\" of foreign table \"%s\", JSON path \"%s\" of item \"%s\", value %s",
				   maps->current->name, maps->relname, maps->current->path,
				   cfj_string(key, &len), value_excerpt(maps->current_value));
	else
		errcontext("column \"%s\" of foreign table \"%s\", JSON path \"%s\", value %s",
				   maps->current->name, maps->relname, maps->current->path,
				   value_excerpt(maps->current_value));
}

static void
report_mismatch(const CfTypeConv *conv, CfJsonType found)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
			 errmsg("cannot convert a JSON %s to type %s", cfj_type_name(found),
					format_type_with_typemod(conv->typid, conv->typmod))));
}

/* A JSON string as a C string in the database encoding (validated). */
static char *
server_string(const CfJson *value)
{
	size_t		len;
	const char *str = cfj_string(value, &len);

	return pg_any_to_server(str, (int) len, PG_UTF8);
}

/* Any JSON value as JSON text in the database encoding. */
static char *
server_json_text(const CfJson *value)
{
	char	   *text = cfj_serialize(value);

	return pg_any_to_server(text, strlen(text), PG_UTF8);
}

/*
 * Whether a timestamp string is "yyyy-mm-dd hh:mm[:ss[.f]]" with no zone
 * after it, as CodeArts sends them.
 */
static bool
lacks_zone(const char *text)
{
	const char *p = text + strspn(text, "0123456789-");

	if (*p != ' ' && *p != 'T')
		return false;
	p++;
	p += strspn(p, "0123456789:.");
	return *p == '\0';
}

/*
 * time and timetz read the time of day, and zone, of an ISO date-time such
 * as "2026-05-18T15:28:08.093156Z" as written: their input functions skip
 * a date followed by a space, but not one followed by "T".
 */
static void
date_time_separator_to_space(char *text)
{
	for (int i = 0; i < 10; i++)
		if ((i == 4 || i == 7) ? text[i] != '-' : !isdigit((unsigned char) text[i]))
			return;
	if (text[10] == 'T' || text[10] == 't')
		text[10] = ' ';
}

static Datum json_to_datum(const CfTypeConv *conv, const CfJson *value, bool *isnull);

static Datum
json_to_array(const CfTypeConv *conv, const CfJson *value)
{
	int			n = cfj_array_length(value);
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(n, 1));
	int			dims[1] = {n};
	int			lbs[1] = {1};
	const CfTypeConv *el = conv->element;

	for (int i = 0; i < n; i++)
		elems[i] = json_to_datum(el, cfj_array_get(value, i), &nulls[i]);
	if (n == 0)
		return PointerGetDatum(construct_empty_array(el->typid));
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs, el->typid,
											  el->typlen, el->typbyval, el->typalign));
}

static Datum
json_to_datum(const CfTypeConv *conv, const CfJson *value, bool *isnull)
{
	CfJsonType type = cfj_type(value);
	char	   *text;

	*isnull = false;
	if (type == CFJ_NULL)
	{
		*isnull = true;
		return (Datum) 0;
	}

	switch (conv->kind)
	{
		case CF_KIND_BOOL:
			if (type != CFJ_BOOL)
				report_mismatch(conv, type);
			return BoolGetDatum(cfj_bool(value));
		case CF_KIND_NUMBER:
			if (type == CFJ_STRING)
				text = server_string(value);
			else if (type == CFJ_NUMBER)
				text = cfj_serialize(value);
			else
				report_mismatch(conv, type);
			break;
		case CF_KIND_DATETIME:
			if (type != CFJ_STRING)
				report_mismatch(conv, type);
			text = server_string(value);
			if (conv->basetype == TIMEOID || conv->basetype == TIMETZOID)
				date_time_separator_to_space(text);
			if (conv->zone != NULL && lacks_zone(text))
				text = psprintf("%s %s", text, conv->zone);
			break;
		case CF_KIND_ARRAY:
			if (type != CFJ_ARRAY)
				report_mismatch(conv, type);
			return json_to_array(conv, value);
		case CF_KIND_JSON:
			text = server_json_text(value);
			break;
		case CF_KIND_TEXT:
		case CF_KIND_OTHER:
		default:
			text = (type == CFJ_STRING) ? server_string(value) : server_json_text(value);
			break;
	}
	return InputFunctionCall((FmgrInfo *) &conv->input, text, conv->ioparam, conv->typmod);
}

/*
 * Store the used columns of one item into a virtual tuple.  A field the item
 * lacks takes its value from the request's parameters, if one was sent for
 * it (CodeArts environments do not repeat their application).  Values are
 * allocated in the current memory context.
 */
void
cf_store_item(CfColumnMap *maps, CfJson *item, const CfParamValue *fallback,
			  int nfallback, TupleTableSlot *slot)
{
	ErrorContextCallback errcallback;

	ExecClearTuple(slot);
	cf_push_error_context(&errcallback, conversion_context, maps);

	maps->current_item = item;
	for (int i = 0; i < maps->natts; i++)
	{
		const CfColumnConv *col = &maps->columns[i];

		slot->tts_isnull[i] = true;
		if (!col->used)
			continue;
		if (col->fixed != NULL)
		{
			slot->tts_values[i] = col->fixed->constvalue;
			slot->tts_isnull[i] = false;
			continue;
		}
		maps->current = col;
		maps->current_value = cfj_get(item, col->path);
		if (maps->current_value == NULL && !cfj_has(item, col->path))
		{
			for (int f = 0; f < nfallback; f++)
				if (strcmp(fallback[f].field, col->path) == 0)
				{
					slot->tts_values[i] = InputFunctionCall((FmgrInfo *) &col->type.input,
															(char *) fallback[f].value,
															col->type.ioparam,
															col->type.typmod);
					slot->tts_isnull[i] = false;
				}
			continue;
		}
		slot->tts_values[i] = json_to_datum(&col->type, maps->current_value,
											&slot->tts_isnull[i]);
	}
	maps->current = NULL;

	error_context_stack = errcallback.previous;
	ExecStoreVirtualTuple(slot);
}

/*
 * A value as the JSON the API expects.  Values JSON cannot carry are
 * refused, naming the column, before anything is sent.
 */
static CfJson *
datum_to_json(const CfTypeConv *conv, const char *column, Datum value, bool isnull,
			  MemoryContext owner)
{
	char	   *text;
	const char *problem;
	CfJson	   *json;

	if (isnull)
		return NULL;

	switch (conv->kind)
	{
		case CF_KIND_BOOL:
			return cfj_new_bool(DatumGetBool(value), owner);
		case CF_KIND_NUMBER:
			text = OutputFunctionCall((FmgrInfo *) &conv->output, value);
			if (!cfj_is_number(text))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("cannot send value \"%s\" of column \"%s\" as a JSON number",
								text, column),
						 errdetail("JSON has no NaN or infinite numbers.")));
			return cfj_new_number(text, owner);
		case CF_KIND_JSON:
			text = OutputFunctionCall((FmgrInfo *) &conv->output, value);
			text = pg_server_to_any(text, strlen(text), PG_UTF8);
			problem = cfj_parse_value(text, strlen(text), owner, &json);
			if (problem != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("cannot send the value of column \"%s\" as JSON", column),
						 errdetail("%s", problem)));
			return json;
		case CF_KIND_DATETIME:
			text = JsonEncodeDateTime(NULL, value, conv->basetype, NULL);
			return cfj_new_string(text, strlen(text), owner);
		case CF_KIND_ARRAY:
			{
				ArrayType  *array = DatumGetArrayTypeP(value);
				const CfTypeConv *el = conv->element;
				CfJson	   *result;
				Datum	   *elems;
				bool	   *nulls;
				int			n;

				/* the API's arrays are flat; a matrix would be flattened */
				if (ARR_NDIM(array) > 1)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("cannot send a %d-dimensional array in column \"%s\"",
									ARR_NDIM(array), column),
							 errdetail("Arrays are sent as JSON arrays of their elements, in one dimension.")));
				result = cfj_new_array(owner);
				deconstruct_array(array, el->typid, el->typlen, el->typbyval,
								  el->typalign, &elems, &nulls, &n);
				for (int i = 0; i < n; i++)
					cfj_array_append(result, datum_to_json(el, column, elems[i], nulls[i], owner));
				return result;
			}
		case CF_KIND_TEXT:
		case CF_KIND_OTHER:
		default:
			text = OutputFunctionCall((FmgrInfo *) &conv->output, value);
			text = pg_server_to_any(text, strlen(text), PG_UTF8);
			return cfj_new_string(text, strlen(text), owner);
	}
}

/* A column value as the JSON the API expects (NULL pointer: JSON null). */
CfJson *
cf_datum_to_json(CfColumnMap *maps, AttrNumber attnum, Datum value, bool isnull,
				 MemoryContext owner)
{
	const CfColumnConv *col = &maps->columns[attnum - 1];

	return datum_to_json(&col->type, col->name, value, isnull, owner);
}

bool
cf_datums_equal(CfColumnMap *maps, AttrNumber attnum, Datum a, Datum b)
{
	const CfTypeConv *conv = &maps->columns[attnum - 1].type;

	return datum_image_eq(a, b, conv->typbyval, conv->typlen);
}

/* A column value as text, through the type's output function. */
char *
cf_datum_to_text(CfColumnMap *maps, AttrNumber attnum, Datum value)
{
	return OutputFunctionCall(&maps->columns[attnum - 1].type.output, value);
}

/*
 * The text of a key value as the API's key, in place: char(n) compares
 * without its blank padding, so it names its item without it.
 */
char *
cf_key_text(Oid basetype, char *text)
{
	if (basetype == BPCHAROID)
	{
		size_t		len = strlen(text);

		while (len > 0 && text[len - 1] == ' ')
			text[--len] = '\0';
	}
	return text;
}

/* A key column value as the API's key. */
char *
cf_datum_to_key(CfColumnMap *maps, AttrNumber attnum, Datum value)
{
	return cf_key_text(maps->columns[attnum - 1].type.basetype,
					   cf_datum_to_text(maps, attnum, value));
}

const char *
cf_column_map_name(CfColumnMap *maps, AttrNumber attnum)
{
	return maps->columns[attnum - 1].name;
}

/* The JSON path of a column, NULL for a dropped one. */
const char *
cf_column_map_path(CfColumnMap *maps, AttrNumber attnum)
{
	return maps->columns[attnum - 1].path;
}

bool
cf_column_map_is_json(CfColumnMap *maps, AttrNumber attnum)
{
	return maps->columns[attnum - 1].type.kind == CF_KIND_JSON;
}
