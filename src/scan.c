/*-------------------------------------------------------------------------
 *
 * scan.c
 *		  Executing foreign scans: every combination of key values is one get
 *		  (up to "concurrency" at once) or one listing, page by page, each
 *		  page in a memory context of its own; rescans with the same key
 *		  values replay the last execution.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "nodes/nodeFuncs.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"

#include "cloud_fdw.h"

/* Executions of at most this many rows are kept to replay on rescans. */
#define CF_REPLAY_MAX_ITEMS 1000

/* Requests one execution may make for combinations of key values, at most. */
#define CF_MAX_KEY_COMBINATIONS 1000000

/* A call parameter's value source during execution. */
typedef struct CfScanKey
{
	const char *field;
	ExprState  *expr;
	bool		is_array;
	Oid			type;			/* of the value, or of its elements */
	Oid			basetype;		/* type, or the type of its domain */
	List	   *values;			/* text values for this execution */
} CfScanKey;

/* What a scan did, for EXPLAIN ANALYZE. */
typedef struct CfScanStats
{
	int64		requests;
	int64		pages;
	int64		bytes;
	int64		replays;		/* executions served from the replay cache */
	int64		retries;
	instr_time	http_time;		/* waiting for responses */
} CfScanStats;

typedef struct CfScanState
{
	CfOptions	opts;
	CfClient	client;
	const char *relname;
	CfColumnMap *maps;
	const CfCall *call;
	bool		is_get;
	CfScanKey  *keys;
	int			nkeys;
	MemoryContext execcxt;		/* one execution (reset on rescan) */
	MemoryContext pagecxt;		/* one fetched page, reset per page */
	CfParamValue *values;		/* the current combination of key values */
	int			ncombos;		/* combinations of key values to request */
	int			combo;
	CfJson	   *items;			/* the current page's items */
	int		   *item_combos;	/* a get batch: each item's combination */
	int			nitems;
	int			next_item;
	bool		started;
	bool		pages_done;		/* no page left for this combination */
	CfPageCursor cursor;

	/*
	 * The rows of the last execution, kept while they are few, so that a
	 * rescan with the same key values (the inner side of a nested loop)
	 * replays them instead of asking again.
	 */
	MemoryContext replaycxt;
	List	   *replay_keys;	/* key values of the recorded execution */
	CfJson	   *replay_items;
	int		   *replay_combos;
	int			nreplay;
	bool		recording;		/* this execution is being recorded */
	bool		replay_complete;	/* the recording holds a whole execution */
	bool		replaying;

	CfScanStats stats;
} CfScanState;

/* A LIMIT smaller than a page asks for a smaller page. */
static void
apply_limit(CfOptions *opts, int limit)
{
	if (limit > 0 && limit < opts->page_size)
		opts->page_size = limit;
}

void
cloudBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	Relation	rel = node->ss.ss_currentRelation;
	CfScanState *state;
	UserMapping *user;
	Bitmapset  *attrs = NULL;
	List	   *fields;
	ListCell   *lc;

	/* Plain EXPLAIN makes no request and needs no credentials. */
	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	state = palloc0(sizeof(CfScanState));
	node->fdw_state = state;
	cf_get_options(RelationGetRelid(rel), &state->opts);
	user = GetUserMapping(cf_scan_user(plan, estate), state->opts.serverid);
	cf_client_open(&state->client, user, &state->opts);
	state->relname = RelationGetRelationName(rel);

	foreach(lc, (List *) list_nth(plan->fdw_private, CF_SCAN_ATTRS))
		attrs = bms_add_member(attrs, lfirst_int(lc));
	state->maps = cf_column_maps(rel, state->opts.resource, attrs);

	state->is_get = intVal(list_nth(plan->fdw_private, CF_SCAN_IS_GET));
	apply_limit(&state->opts, intVal(list_nth(plan->fdw_private, CF_SCAN_LIMIT)));
	state->call = state->is_get ? state->opts.resource->get : state->opts.resource->list;
	fields = (List *) list_nth(plan->fdw_private, CF_SCAN_FIELDS);
	state->nkeys = list_length(fields);
	state->keys = palloc0(sizeof(CfScanKey) * Max(1, state->nkeys));
	state->values = palloc0(sizeof(CfParamValue) * Max(1, state->nkeys));
	for (int i = 0; i < state->nkeys; i++)
	{
		CfScanKey  *key = &state->keys[i];
		Expr	   *expr = list_nth(plan->fdw_exprs, i);

		key->field = strVal(list_nth(fields, i));
		key->is_array = list_nth_int((List *) list_nth(plan->fdw_private, CF_SCAN_ARRAYS), i);
		key->type = key->is_array ? get_element_type(exprType((Node *) expr)) : exprType((Node *) expr);
		key->basetype = getBaseType(key->type);
		key->expr = ExecInitExpr(expr, (PlanState *) node);
		state->values[i].field = key->field;
	}

	state->execcxt = AllocSetContextCreate(estate->es_query_cxt,
										   "cloud_fdw execution",
										   ALLOCSET_SMALL_SIZES);
	state->pagecxt = AllocSetContextCreate(estate->es_query_cxt,
										   "cloud_fdw page",
										   ALLOCSET_DEFAULT_SIZES);
	state->replaycxt = AllocSetContextCreate(estate->es_query_cxt,
											 "cloud_fdw replay",
											 ALLOCSET_DEFAULT_SIZES);
	INSTR_TIME_SET_ZERO(state->stats.http_time);
}

/*
 * The distinct text values of a key for this execution.  NULLs match
 * nothing, and neither does an empty value: no id, parent, scope, name or
 * enumeration value of these APIs is empty, and they refuse an empty query
 * parameter; except where the registry says that "" leaves the parameter
 * out (EPS: global resources have no region project, and are listed
 * without one).  A path parameter cannot be "." or "..", which would address
 * the collection or its parent instead of an item; nor can a value outside
 * the API's enumeration match.  char(n) compares without its blank
 * padding, so it is sent without it.
 */
static List *
evaluate_key(ForeignScanState *node, CfScanState *state, CfScanKey *key,
			 const CfCallParam *param)
{
	const CfColumn *column = cf_find_column(state->opts.resource, key->field);
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	Datum		value;
	bool		isnull;
	Oid			outfunc;
	bool		isvarlena;
	List	   *values = NIL;
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	int16		typlen;
	bool		typbyval;
	char		typalign;

	value = ExecEvalExpr(key->expr, econtext, &isnull);
	if (isnull)
		return NIL;
	getTypeOutputInfo(key->type, &outfunc, &isvarlena);
	if (!key->is_array)
	{
		elems = &value;
		nulls = &isnull;
		nelems = 1;
	}
	else
	{
		get_typlenbyvalalign(key->type, &typlen, &typbyval, &typalign);
		deconstruct_array(DatumGetArrayTypeP(value), key->type, typlen, typbyval,
						  typalign, &elems, &nulls, &nelems);
	}

	for (int i = 0; i < nelems; i++)
	{
		char	   *text;

		if (nulls[i])
			continue;
		text = cf_key_text(key->basetype, OidOutputFunctionCall(outfunc, elems[i]));
		if ((text[0] != '\0' || param->empty_omits) &&
			(param->in != CF_IN_PATH || cf_key_is_addressable(text)) &&
			cf_column_allows(column, text))
			values = lappend(values, text);
	}
	list_sort(values, cf_compare_strings);
	for (int i = list_length(values) - 1; i > 0; i--)
		if (strcmp(list_nth(values, i), list_nth(values, i - 1)) == 0)
			values = list_delete_nth_cell(values, i);
	return values;
}

/* A copy of a list of lists of strings (copyObject copies nodes only). */
static List *
copy_key_values(List *key_values)
{
	List	   *copy = NIL;
	ListCell   *lc;

	foreach(lc, key_values)
	{
		List	   *values = NIL;
		ListCell   *lv;

		foreach(lv, (List *) lfirst(lc))
			values = lappend(values, pstrdup((char *) lfirst(lv)));
		copy = lappend(copy, values);
	}
	return copy;
}

static bool
same_key_values(List *a, List *b)
{
	ListCell   *la;
	ListCell   *lb;

	if (list_length(a) != list_length(b))
		return false;
	forboth(la, a, lb, b)
	{
		List	   *va = (List *) lfirst(la);
		List	   *vb = (List *) lfirst(lb);
		ListCell   *ca;
		ListCell   *cb;

		if (list_length(va) != list_length(vb))
			return false;
		forboth(ca, va, cb, vb)
			if (strcmp((char *) lfirst(ca), (char *) lfirst(cb)) != 0)
			return false;
	}
	return true;
}

/*
 * Evaluate the keys: every combination of their values is one request (a
 * get) or one listing.  With the same values as the recorded execution,
 * replay it instead.
 */
static void
start_scan(ForeignScanState *node, CfScanState *state)
{
	MemoryContext oldcxt;
	List	   *key_values = NIL;

	MemoryContextReset(state->execcxt);
	oldcxt = MemoryContextSwitchTo(state->execcxt);
	state->ncombos = 1;
	for (int i = 0; i < state->nkeys; i++)
	{
		CfScanKey  *key = &state->keys[i];
		int64		ncombos;

		key->values = evaluate_key(node, state, key, cf_call_param(state->call, key->field));
		key_values = lappend(key_values, key->values);
		ncombos = (int64) state->ncombos * list_length(key->values);
		if (ncombos > CF_MAX_KEY_COMBINATIONS)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many combinations of key values for foreign table \"%s\"",
							RelationGetRelationName(node->ss.ss_currentRelation)),
					 errdetail("The values given for the keys would need more than %d requests.",
							   CF_MAX_KEY_COMBINATIONS),
					 errhint("Give fewer values, or join the values as a table instead of lists.")));
		state->ncombos = (int) ncombos;
	}
	state->combo = -1;
	state->pages_done = true;
	state->nitems = 0;
	state->next_item = 0;
	memset(&state->cursor, 0, sizeof(CfPageCursor));
	MemoryContextSwitchTo(oldcxt);

	state->replaying = state->replay_complete &&
		same_key_values(key_values, state->replay_keys);
	if (state->replaying)
	{
		state->stats.replays++;
		state->next_item = 0;
		return;
	}

	/* record this execution, in place of the last one */
	MemoryContextReset(state->replaycxt);
	oldcxt = MemoryContextSwitchTo(state->replaycxt);
	state->replay_keys = copy_key_values(key_values);
	state->replay_items = cfj_new_array(state->replaycxt);
	state->replay_combos = palloc(sizeof(int) * CF_REPLAY_MAX_ITEMS);
	MemoryContextSwitchTo(oldcxt);
	state->nreplay = 0;
	state->recording = true;
	state->replay_complete = false;
}

/* Keep an item for replay; a long execution is not recorded at all. */
static void
record_item(CfScanState *state, CfJson *item, int combo)
{
	if (!state->recording)
		return;
	if (state->nreplay >= CF_REPLAY_MAX_ITEMS)
	{
		state->recording = false;
		MemoryContextReset(state->replaycxt);
		state->replay_items = NULL;
		return;
	}
	cfj_array_append(state->replay_items, item);
	state->replay_combos[state->nreplay++] = combo;
}

/* Set state->values to the key values of one combination. */
static void
set_combination(CfScanState *state, int combo)
{
	for (int i = state->nkeys - 1; i >= 0; i--)
	{
		int			n = list_length(state->keys[i].values);

		state->values[i].value = list_nth(state->keys[i].values, combo % n);
		combo /= n;
	}
}

static void
count_response(CfScanState *state, const CfHttpResponse *resp, instr_time started)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, started);
	INSTR_TIME_ADD(state->stats.http_time, now);
	state->stats.requests += 1 + resp->retries;
	state->stats.retries += resp->retries;
	state->stats.bytes += resp->body_len;
}

/* Fetch the next page of the current combination's listing. */
static void
fetch_page(CfScanState *state)
{
	const CfResource *resource = state->opts.resource;
	MemoryContext oldcxt;
	ErrorContextCallback errcallback;
	CfRequest	req;
	CfHttpResponse resp;
	CfJson	   *page;
	instr_time	started;

	MemoryContextReset(state->pagecxt);
	oldcxt = MemoryContextSwitchTo(state->pagecxt);
	cf_build_request(state->call, state->values, state->nkeys, &state->opts,
					 &state->cursor, false, &req);
	cf_push_request_context(&errcallback, &req);

	INSTR_TIME_SET_CURRENT(started);
	page = cf_call_json(&state->client, &req, true, state->pagecxt, &resp);
	count_response(state, &resp, started);
	state->stats.pages++;
	state->item_combos = NULL;
	state->next_item = 0;
	if (resp.status == 404)
	{
		/* the parent of the listing does not exist: it has no items */
		state->nitems = 0;
		state->pages_done = true;
		error_context_stack = errcallback.previous;
		MemoryContextSwitchTo(oldcxt);
		return;
	}
	cf_check_partial_errors(&state->opts, page, state->relname);
	state->items = cf_page_items(resource, page);
	state->nitems = cfj_array_length(state->items);
	MemoryContextSwitchTo(state->execcxt);
	cf_advance_cursor(resource, page, state->items, &state->cursor);
	state->pages_done = state->cursor.done;

	error_context_stack = errcallback.previous;
	MemoryContextSwitchTo(oldcxt);
}

/*
 * Get the items of the next combinations, up to "concurrency" requests at
 * once; items keep the order of their keys, the API's 404 is no item.
 * False when no combination is left.
 */
static bool
fetch_get_batch(CfScanState *state)
{
	int			first = state->combo + 1;
	int			n = Min(state->opts.concurrency, state->ncombos - first);
	CfRequest  *reqs;
	CfExchange **exchanges;
	MemoryContext oldcxt;
	instr_time	started;

	if (n <= 0)
		return false;
	MemoryContextReset(state->pagecxt);
	oldcxt = MemoryContextSwitchTo(state->pagecxt);
	reqs = palloc0(sizeof(CfRequest) * n);
	exchanges = palloc(sizeof(CfExchange *) * n);
	INSTR_TIME_SET_CURRENT(started);
	for (int i = 0; i < n; i++)
	{
		set_combination(state, first + i);
		cf_build_request(state->call, state->values, state->nkeys, &state->opts,
						 NULL, false, &reqs[i]);
		exchanges[i] = cf_client_start(&state->client, &reqs[i], state->pagecxt);
	}

	state->items = cfj_new_array(state->pagecxt);
	state->item_combos = palloc(sizeof(int) * n);
	state->nitems = 0;
	state->next_item = 0;
	for (int i = 0; i < n; i++)
	{
		ErrorContextCallback errcallback;
		CfHttpResponse resp;
		CfJson	   *answer;
		CfJson	   *item;

		cf_push_request_context(&errcallback, &reqs[i]);
		cf_client_finish(&state->client, exchanges[i], &resp);
		count_response(state, &resp, started);
		answer = cf_client_answer(&state->client, &reqs[i], &resp, true, state->pagecxt);
		if (resp.status != 404)
		{
			item = cf_answer_item(state->call, answer);
			if (item == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("get response holds no item object")));
			cfj_array_append(state->items, item);
			state->item_combos[state->nitems++] = first + i;
		}
		error_context_stack = errcallback.previous;
	}
	state->combo += n;
	MemoryContextSwitchTo(oldcxt);
	return true;
}

/* Start the listing of the next combination; false when there is none. */
static bool
next_listing(CfScanState *state)
{
	MemoryContext oldcxt;

	if (++state->combo >= state->ncombos)
		return false;
	set_combination(state, state->combo);
	oldcxt = MemoryContextSwitchTo(state->execcxt);
	cf_first_page(state->opts.resource, state->opts.page_size, &state->cursor);
	MemoryContextSwitchTo(oldcxt);
	state->pages_done = false;
	return true;
}

static TupleTableSlot *
store_row(ForeignScanState *node, CfScanState *state, CfJson *item, int combo)
{
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	MemoryContext oldcxt;

	set_combination(state, combo);
	MemoryContextReset(econtext->ecxt_per_tuple_memory);
	oldcxt = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
	cf_store_item(state->maps, item, state->values, state->nkeys, slot);
	MemoryContextSwitchTo(oldcxt);
	return slot;
}

TupleTableSlot *
cloudIterateForeignScan(ForeignScanState *node)
{
	CfScanState *state = (CfScanState *) node->fdw_state;

	if (!state->started)
	{
		state->started = true;
		start_scan(node, state);
	}

	if (state->replaying)
	{
		int			i = state->next_item++;

		if (i >= state->nreplay)
			return ExecClearTuple(node->ss.ss_ScanTupleSlot);
		return store_row(node, state, cfj_array_get(state->replay_items, i),
						 state->replay_combos[i]);
	}

	for (;;)
	{
		if (state->next_item < state->nitems)
		{
			int			i = state->next_item++;
			CfJson	   *item = cfj_array_get(state->items, i);
			int			combo = state->item_combos ? state->item_combos[i] : state->combo;

			record_item(state, item, combo);
			return store_row(node, state, item, combo);
		}
		if (state->is_get)
		{
			if (!fetch_get_batch(state))
				break;
			continue;
		}
		if (state->pages_done && !next_listing(state))
			break;
		fetch_page(state);
	}

	state->replay_complete = state->recording;
	return ExecClearTuple(node->ss.ss_ScanTupleSlot);
}

void
cloudReScanForeignScan(ForeignScanState *node)
{
	CfScanState *state = (CfScanState *) node->fdw_state;

	state->started = false;
	state->nitems = 0;
	state->next_item = 0;
}

void
cloudEndForeignScan(ForeignScanState *node)
{
	CfScanState *state = (CfScanState *) node->fdw_state;

	/* The contexts belong to the query; release pages and replays early anyway. */
	if (state != NULL)
	{
		MemoryContextDelete(state->pagecxt);
		MemoryContextDelete(state->replaycxt);
	}
}


/*
 * EXPLAIN VERBOSE shows the request a scan starts with, relative to the
 * endpoint: constant keys in place, others as {field}, listed under
 * "Remote keys".
 */
void
cloudExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;
	CfOptions	opts;
	bool		is_get = intVal(list_nth(plan->fdw_private, CF_SCAN_IS_GET));
	List	   *fields = (List *) list_nth(plan->fdw_private, CF_SCAN_FIELDS);
	List	   *arrays = (List *) list_nth(plan->fdw_private, CF_SCAN_ARRAYS);
	CfParamValue *values = palloc0(sizeof(CfParamValue) * Max(1, list_length(fields)));
	int			nvalues = 0;
	StringInfoData keys;
	CfPageCursor cursor = {0};
	CfRequest	req;

	if (es->analyze && node->fdw_state != NULL)
	{
		CfScanState *state = (CfScanState *) node->fdw_state;

		ExplainPropertyInteger("Remote requests", NULL, state->stats.requests, es);
		if (!state->is_get)
			ExplainPropertyInteger("Remote pages", NULL, state->stats.pages, es);
		ExplainPropertyInteger("Remote bytes", NULL, state->stats.bytes, es);
		if (state->stats.retries > 0)
			ExplainPropertyInteger("Remote retries", NULL, state->stats.retries, es);
		if (state->stats.replays > 0)
			ExplainPropertyInteger("Remote replays", NULL, state->stats.replays, es);
		if (es->timing)
			ExplainPropertyFloat("Remote time", "ms",
								 INSTR_TIME_GET_MILLISEC(state->stats.http_time), 3, es);
	}
	if (!es->verbose)
		return;
	cf_get_options(RelationGetRelid(node->ss.ss_currentRelation), &opts);
	apply_limit(&opts, intVal(list_nth(plan->fdw_private, CF_SCAN_LIMIT)));

	/*
	 * Key values that are not constants are deparsed in the context EXPLAIN
	 * set up for this node when it showed the Filter, which always holds the
	 * key quals: they are rechecked locally.
	 */
	Assert(fields == NIL || plan->scan.plan.qual != NIL);
	initStringInfo(&keys);
	for (int i = 0; i < list_length(fields); i++)
	{
		Expr	   *expr = list_nth(plan->fdw_exprs, i);
		const char *field = strVal(list_nth(fields, i));

		if (!list_nth_int(arrays, i) && IsA(expr, Const) && !((Const *) expr)->constisnull)
		{
			Oid			outfunc;
			bool		isvarlena;

			getTypeOutputInfo(((Const *) expr)->consttype, &outfunc, &isvarlena);
			values[nvalues].field = field;
			values[nvalues++].value = OidOutputFunctionCall(outfunc, ((Const *) expr)->constvalue);
		}
		else
			appendStringInfo(&keys, "%s%s %s %s", keys.len > 0 ? ", " : "", field,
							 list_nth_int(arrays, i) ? "IN" : "=",
							 deparse_expression((Node *) expr, es->deparse_cxt, true, false));
	}

	if (!is_get)
		cf_first_page(opts.resource, opts.page_size, &cursor);
	cf_build_request(is_get ? opts.resource->get : opts.resource->list, values, nvalues,
					 &opts, is_get ? NULL : &cursor, true, &req);
	ExplainPropertyText("Remote request", is_get ? cf_request_text(&req)
						: psprintf("%s (all pages)", cf_request_text(&req)), es);
	if (keys.len > 0)
		ExplainPropertyText("Remote keys", keys.data, es);
}
