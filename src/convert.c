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
#include "utils/datetime.h"
#include "utils/datum.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
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
	int			lookup;			/* its path in the map's path set, or -1 */
	Const	   *fixed;			/* the column's value in every row, or NULL */
	CfTypeConv	type;
} CfColumnConv;

struct CfColumnMap
{
	const char *relname;
	const char *key_path;
	int			natts;
	CfColumnConv *columns;		/* indexed by attnum - 1 */
	CfPathSet  *paths;			/* of the used columns that read a field */
	const CfNode **values;		/* ... and their values in the item being stored */
	/* what is being converted, for the error context */
	const CfColumnConv *current;
	const CfNode *current_value;
	const CfNode *current_item;
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
 * Conversion state for the columns of a foreign table: all of them, or
 * those of attrs, the attribute numbers a scan reads.  The others are
 * never converted, so a value no query reads cannot fail one.
 */
CfColumnMap *
cf_column_maps(Relation rel, const CfResource *resource, bool all, const Bitmapset *attrs)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	CfColumnMap *maps = palloc0(sizeof(CfColumnMap));
	const char **paths = palloc(sizeof(char *) * Max(tupdesc->natts, 1));
	int			npaths = 0;

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
		col->used = (all || bms_is_member(att->attnum, attrs));
		col->fixed = cf_fixed_value(RelationGetRelid(rel), att);
		if (col->used)
			init_type_conv(&col->type, att->atttypid, att->atttypmod);
		col->type.zone = cf_column_option(RelationGetRelid(rel), att->attnum, "timezone");
		if (col->type.zone == NULL && cf_find_column(resource, col->path) != NULL)
			col->type.zone = cf_find_column(resource, col->path)->zone;
		col->lookup = -1;
		if (col->used && col->fixed == NULL)
		{
			col->lookup = npaths;
			paths[npaths++] = col->path;
		}
	}
	maps->paths = cfn_compile_paths(paths, npaths);
	maps->values = palloc(sizeof(CfNode *) * Max(npaths, 1));
	return maps;
}

static char *
value_excerpt(const CfNode *value)
{
	char	   *text = cfn_serialize(value);
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
	const CfNode *key = cfn_get(maps->current_item, maps->key_path);
	size_t		len;

	if (maps->current == NULL)
		return;
	if (cfn_type(key) == CFJ_STRING)
		errcontext("column \"%s\" of foreign table \"%s\", JSON path \"%s\" of item \"%s\", value %s",
				   maps->current->name, maps->relname, maps->current->path,
				   cfn_cstring(key, &len), value_excerpt(maps->current_value));
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

/*
 * A JSON string as a C string in the database encoding.  In a UTF-8
 * database, a string of the tape's checked UTF-8 with no NUL in it is one
 * already.
 */
static char *
server_string(const CfNode *value)
{
	size_t		len;
	char	   *str = cfn_cstring(value, &len);

	if (GetDatabaseEncoding() == PG_UTF8 && strlen(str) == len)
		return str;
	return pg_any_to_server(str, (int) len, PG_UTF8);
}

/* Any JSON value as JSON text in the database encoding. */
static char *
server_json_text(const CfNode *value)
{
	char	   *text = cfn_serialize(value);

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

/* n digits at p as a number, or -1. */
static int
read_digits(const char *p, int n)
{
	int			value = 0;

	for (int i = 0; i < n; i++)
	{
		if (p[i] < '0' || p[i] > '9')
			return -1;
		value = value * 10 + (p[i] - '0');
	}
	return value;
}

/*
 * The RFC 3339 date-times the APIs send, "2026-05-18T15:28:08.093156Z" or
 * with an offset "+08:00", read without timestamptz_in's general parser.
 * Anything else (another form, more than microseconds, a leap second, a
 * date that does not exist) returns false, for the input function to judge.
 */
static bool
rfc3339_timestamptz(const char *s, size_t len, TimestampTz *result)
{
	int			year,
				month,
				day,
				hour,
				minute,
				second;
	int64		usec = 0;
	int			offset = 0;
	size_t		i = 19;

	if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
		s[13] != ':' || s[16] != ':')
		return false;
	year = read_digits(s, 4);
	month = read_digits(s + 5, 2);
	day = read_digits(s + 8, 2);
	hour = read_digits(s + 11, 2);
	minute = read_digits(s + 14, 2);
	second = read_digits(s + 17, 2);
	if (year < 1 || month < 1 || month > 12 || day < 1 ||
		day > day_tab[isleap(year)][month - 1] ||
		hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59)
		return false;
	if (s[i] == '.')
	{
		int			digits = 0;

		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, digits++)
			usec = usec * 10 + (s[i] - '0');
		if (digits == 0 || digits > 6)
			return false;
		for (; digits < 6; digits++)
			usec *= 10;
	}
	if (i + 1 == len && (s[i] == 'Z' || s[i] == 'z'))
		offset = 0;
	else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':')
	{
		int			oh = read_digits(s + i + 1, 2);
		int			om = read_digits(s + i + 4, 2);

		if (oh < 0 || oh > 15 || om < 0 || om > 59)
			return false;
		offset = (oh * MINS_PER_HOUR + om) * SECS_PER_MINUTE * (s[i] == '-' ? -1 : 1);
	}
	else
		return false;

	*result = ((int64) (date2j(year, month, day) - POSTGRES_EPOCH_JDATE) * SECS_PER_DAY +
			   (hour * MINS_PER_HOUR + minute) * SECS_PER_MINUTE + second - offset) * USECS_PER_SEC +
		usec;
	return true;
}

static Datum json_to_datum(const CfTypeConv *conv, const CfNode *value, bool *isnull);

static Datum
json_to_array(const CfTypeConv *conv, const CfNode *value)
{
	int			n = cfn_count(value);
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(n, 1));
	int			dims[1] = {n};
	int			lbs[1] = {1};
	const CfTypeConv *el = conv->element;
	int			i = 0;

	cfn_foreach_element(element, value)
	{
		elems[i] = json_to_datum(el, element, &nulls[i]);
		i++;
	}
	if (n == 0)
		return PointerGetDatum(construct_empty_array(el->typid));
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs, el->typid,
											  el->typlen, el->typbyval, el->typalign));
}

/* A JSON string as a jsonb string, in the database encoding. */
static void
jsonb_string(const CfNode *value, JsonbValue *jb)
{
	size_t		len;
	const char *str = cfn_string_view(value, &len);

	if (cfn_escaped(value) && memchr(str, '\0', len) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNTRANSLATABLE_CHARACTER),
				 errmsg("unsupported Unicode escape sequence"),
				 errdetail("\\u0000 cannot be converted to text.")));
	if (GetDatabaseEncoding() != PG_UTF8)
	{
		const char *converted = pg_any_to_server(str, (int) len, PG_UTF8);

		if (converted != str)
		{
			str = converted;
			len = strlen(converted);
		}
	}
	jb->type = jbvString;
	jb->val.string.val = (char *) str;
	jb->val.string.len = (int) len;
}

/*
 * Push a value onto a jsonb being built, straight from the tape: what
 * jsonb_in would make of the value's text, without that text.
 */
static JsonbValue *
push_jsonb(JsonbParseState **state, const CfNode *value, JsonbIteratorToken token)
{
	JsonbValue	jb;

	switch (cfn_type(value))
	{
		case CFJ_OBJECT:
			pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
			cfn_foreach_member(key, value)
			{
				jsonb_string(key, &jb);
				pushJsonbValue(state, WJB_KEY, &jb);
				push_jsonb(state, cfn_skip(key), WJB_VALUE);
			}
			return pushJsonbValue(state, WJB_END_OBJECT, NULL);
		case CFJ_ARRAY:
			pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
			cfn_foreach_element(element, value)
				push_jsonb(state, element, WJB_ELEM);
			return pushJsonbValue(state, WJB_END_ARRAY, NULL);
		case CFJ_STRING:
			jsonb_string(value, &jb);
			break;
		case CFJ_NUMBER:
			jb.type = jbvNumeric;
			jb.val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in,
																 CStringGetDatum(cfn_number_text(value)),
																 ObjectIdGetDatum(InvalidOid),
																 Int32GetDatum(-1)));
			break;
		case CFJ_BOOL:
			jb.type = jbvBool;
			jb.val.boolean = cfn_bool(value);
			break;
		case CFJ_NULL:
			jb.type = jbvNull;
			break;
	}
	/* a scalar alone is a one-element array that says so, as in jsonb_in */
	if (*state == NULL)
	{
		pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
		(*state)->contVal.val.array.rawScalar = true;
		pushJsonbValue(state, WJB_ELEM, &jb);
		return pushJsonbValue(state, WJB_END_ARRAY, NULL);
	}
	return pushJsonbValue(state, token, &jb);
}

static Datum
json_to_jsonb(const CfTypeConv *conv, const CfNode *value)
{
	JsonbParseState *state = NULL;
	Jsonb	   *jsonb = JsonbValueToJsonb(push_jsonb(&state, value, WJB_ELEM));

	/* a domain over jsonb checks its constraints in its input function */
	if (conv->typid != JSONBOID)
		return InputFunctionCall((FmgrInfo *) &conv->input,
								 JsonbToCString(NULL, &jsonb->root, VARSIZE(jsonb)),
								 conv->ioparam, conv->typmod);
	return JsonbPGetDatum(jsonb);
}

static Datum
json_to_datum(const CfTypeConv *conv, const CfNode *value, bool *isnull)
{
	CfJsonType	type = cfn_type(value);
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
			return BoolGetDatum(cfn_bool(value));
		case CF_KIND_NUMBER:
			if (type == CFJ_STRING)
				text = server_string(value);
			else if (type == CFJ_NUMBER)
				text = cfn_number_text(value);
			else
				report_mismatch(conv, type);
			break;
		case CF_KIND_DATETIME:
			if (type != CFJ_STRING)
				report_mismatch(conv, type);
			if (conv->typid == TIMESTAMPTZOID && conv->typmod < 0 && !cfn_escaped(value))
			{
				size_t		len;
				const char *str = cfn_string_view(value, &len);
				TimestampTz ts;

				if (rfc3339_timestamptz(str, len, &ts))
					return TimestampTzGetDatum(ts);
			}
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
			if (conv->basetype == JSONBOID)
				return json_to_jsonb(conv, value);
			text = server_json_text(value);
			break;
		case CF_KIND_TEXT:
			if (type == CFJ_STRING && conv->typid == TEXTOID &&
				GetDatabaseEncoding() == PG_UTF8 && !cfn_escaped(value))
			{
				size_t		len;
				const char *str = cfn_string_view(value, &len);

				return PointerGetDatum(cstring_to_text_with_len(str, (int) len));
			}
			/* FALLTHROUGH */
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
cf_store_item(CfColumnMap *maps, const CfNode *item, const CfParamValue *fallback,
			  int nfallback, TupleTableSlot *slot)
{
	ErrorContextCallback errcallback;

	ExecClearTuple(slot);
	cf_push_error_context(&errcallback, conversion_context, maps);

	maps->current_item = item;
	cfn_find_paths(item, maps->paths, maps->values);
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
		maps->current_value = maps->values[col->lookup];
		if (maps->current_value == NULL)
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
