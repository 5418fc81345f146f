/*-------------------------------------------------------------------------
 *
 * scan.c
 *		  Executing foreign scans: every combination of key values is one get
 *		  or one listing, page by page.  Requests go out ahead of the rows,
 *		  up to "concurrency" at once: gets of the next combinations, pages
 *		  whose position the first page's total makes known, the next page
 *		  of a cursor as soon as the cursor is read.  Rows come out in the
 *		  order of the requests, each page in a memory context of its own,
 *		  freed once its rows are out, so that no more than "concurrency"
 *		  pages are ever held.  Under an Append, the same pipeline runs
 *		  asynchronously: every partition's requests are on their way at
 *		  once.  Rescans with the same key values replay the last execution.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/execAsync.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "storage/latch.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
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
	int			most_held;		/* pages held at once, on their way or being read */
	instr_time	http_time;		/* waiting for responses */
} CfScanStats;

/* One request of a scan: a get, or a page of a listing; and then its items. */
typedef struct CfFetch
{
	MemoryContext cxt;			/* the request, its answer and its items */
	CfRequest	req;
	CfExchange *exchange;
	int			combo;			/* its combination of key values */
} CfFetch;

/* What the scan asks for next, ahead of the rows. */
typedef enum CfPlanned
{
	CF_NEXT_KNOWN,				/* the next request is known */
	CF_NEXT_AFTER_PAGE,			/* known once the last page asked for is read */
	CF_NEXT_COMBINATION			/* the combination is done: the next one */
} CfPlanned;

typedef struct CfScanState
{
	CfOptions	opts;
	CfClient	client;
	const char *relname;
	CfColumnMap *maps;
	const CfCall *call;
	bool		is_get;
	bool		count_only;		/* an aggregate: count(*) from the API's total */
	CfScanKey  *keys;
	int			nkeys;
	List	   *gates;			/* ExprState: quals on fixed columns */
	MemoryContext execcxt;		/* one execution (reset on rescan) */
	MemoryContext fetchcxt;		/* parent of the fetches' contexts */
	CfParamValue *values;		/* the current combination of key values */
	int			ncombos;		/* combinations of key values to request */
	bool		started;
	bool		finished;		/* every row is out (or the scan was skipped) */
	bool		no_waiting;		/* an asynchronous Append asks for a row */
	bool		would_wait;		/* ... and it is not there yet */
	int64		rows;			/* returned by this execution */
	int64		count_total;	/* count_only: the totals answered so far */

	/* the requests on their way, in row order: a ring of "concurrency" */
	CfFetch   **window;
	int			first;
	int			nfetches;

	/* what to ask for next */
	int			next_combo;		/* the combination being asked for */
	CfPlanned	planned;
	CfPageCursor ahead;			/* the next page to ask for */
	double		ahead_total;	/* pages ahead are known from this total, or -1 */

	/* the fetch being read: its answer is on the tape */
	CfTape	   *tape;
	CfFetch    *current;
	const CfNode *next_node;	/* the item of the next row */
	int			nitems;
	int			next_item;
	int			combo;			/* of the rows being read */
	CfPageCursor cursor;		/* the listing as read so far */

	/*
	 * The rows of the last execution, kept while they are few, so that a
	 * rescan with the same key values (the inner side of a nested loop)
	 * replays them instead of asking again.
	 */
	MemoryContext replaycxt;
	List	   *replay_keys;	/* key values of the recorded execution */
	StringInfoData replay_text; /* its items, as a JSON array being written */
	const CfNode *replay_items; /* ... and once complete, read */
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
	Index		rtindex = bms_next_member(plan->fs_relids, -1);
	Oid			relid = exec_rt_fetch(rtindex, estate)->relid;
	CfScanState *state;
	UserMapping *user;
	List	   *fields;
	int			ngates;
	int			nexprs = list_length(plan->fdw_exprs);

	/* Plain EXPLAIN makes no request and needs no credentials. */
	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	state = palloc0(sizeof(CfScanState));
	node->fdw_state = state;
	cf_get_options(relid, &state->opts);
	user = GetUserMapping(cf_scan_user(plan, estate, rtindex), state->opts.serverid);
	cf_client_open(&state->client, user, &state->opts);
	/* rows an UPDATE is about to change are read fresh */
	if (!list_member_int(estate->es_plannedstmt->resultRelations, rtindex))
		cf_client_use_cache(&state->client);
	state->relname = get_rel_name(relid);
	state->count_only = intVal(list_nth(plan->fdw_private, CF_SCAN_COUNT));

	if (!state->count_only)
	{
		Bitmapset  *attrs = NULL;
		ListCell   *lc;

		foreach(lc, (List *) list_nth(plan->fdw_private, CF_SCAN_ATTRS))
			attrs = bms_add_member(attrs, lfirst_int(lc));
		state->maps = cf_column_maps(node->ss.ss_currentRelation, state->opts.resource,
									 false, attrs);
	}

	state->is_get = intVal(list_nth(plan->fdw_private, CF_SCAN_IS_GET));
	apply_limit(&state->opts, intVal(list_nth(plan->fdw_private, CF_SCAN_LIMIT)));
	if (state->count_only)
		state->opts.page_size = 1;
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
	ngates = intVal(list_nth(plan->fdw_private, CF_SCAN_GATES));
	for (int i = nexprs - ngates; i < nexprs; i++)
		state->gates = lappend(state->gates,
							   ExecInitExpr(list_nth(plan->fdw_exprs, i), (PlanState *) node));

	state->window = palloc0(sizeof(CfFetch *) * state->opts.concurrency);
	state->execcxt = AllocSetContextCreate(estate->es_query_cxt,
										   "cloud_fdw execution",
										   ALLOCSET_SMALL_SIZES);
	state->fetchcxt = AllocSetContextCreate(estate->es_query_cxt,
											"cloud_fdw fetches",
											ALLOCSET_SMALL_SIZES);
	state->replaycxt = AllocSetContextCreate(estate->es_query_cxt,
											 "cloud_fdw replay",
											 ALLOCSET_DEFAULT_SIZES);
	/* one tape for every page, in turn: no more than the largest is ever held */
	state->tape = cf_tape_create(estate->es_query_cxt);
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
 * Quals on columns whose value the table fixes (the column option "value")
 * are decided here, without a request: a partition of another account has
 * no rows.
 */
static bool
gates_pass(ForeignScanState *node, CfScanState *state)
{
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	ListCell   *lc;

	foreach(lc, state->gates)
	{
		bool		isnull;
		Datum		passed = ExecEvalExpr((ExprState *) lfirst(lc), econtext, &isnull);

		if (isnull || !DatumGetBool(passed))
			return false;
	}
	return true;
}

/* Abandon the requests on their way and free what they hold. */
static void
drop_fetches(CfScanState *state)
{
	state->current = NULL;
	state->next_node = NULL;
	state->nitems = state->next_item = 0;
	state->nfetches = 0;
	state->first = 0;
	/* deleting a fetch's context cancels its transfer */
	MemoryContextReset(state->fetchcxt);
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

	drop_fetches(state);
	MemoryContextReset(state->execcxt);
	oldcxt = MemoryContextSwitchTo(state->execcxt);
	state->ncombos = gates_pass(node, state) ? 1 : 0;
	for (int i = 0; i < state->nkeys && state->ncombos > 0; i++)
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
							state->relname),
					 errdetail("The values given for the keys would need more than %d requests.",
							   CF_MAX_KEY_COMBINATIONS),
					 errhint("Give fewer values, or join the values as a table instead of lists.")));
		state->ncombos = (int) ncombos;
	}
	state->next_combo = -1;
	state->planned = CF_NEXT_COMBINATION;
	state->combo = -1;
	state->finished = false;
	state->rows = 0;
	state->count_total = 0;
	memset(&state->cursor, 0, sizeof(CfPageCursor));
	memset(&state->ahead, 0, sizeof(CfPageCursor));
	MemoryContextSwitchTo(oldcxt);

	state->replaying = state->replay_complete && !state->count_only &&
		same_key_values(key_values, state->replay_keys);
	if (state->replaying)
	{
		state->stats.replays++;
		/* read the recording once; its text passed the UTF-8 check as pages */
		if (state->replay_items == NULL)
			state->replay_items = cf_tape_parse(cf_tape_create(state->replaycxt),
												state->replay_text.data,
												state->replay_text.len, true);
		state->next_node = cfn_first(state->replay_items);
		state->next_item = 0;
		state->nitems = state->nreplay;
		return;
	}

	/* record this execution, in place of the last one */
	MemoryContextReset(state->replaycxt);
	oldcxt = MemoryContextSwitchTo(state->replaycxt);
	state->replay_keys = copy_key_values(key_values);
	initStringInfo(&state->replay_text);
	appendStringInfoChar(&state->replay_text, '[');
	state->replay_items = NULL;
	state->replay_combos = palloc(sizeof(int) * CF_REPLAY_MAX_ITEMS);
	MemoryContextSwitchTo(oldcxt);
	state->nreplay = 0;
	state->recording = !state->count_only;
	state->replay_complete = false;
}

/* Keep an item for replay; a long execution is not recorded at all. */
static void
record_item(CfScanState *state, const CfNode *item, int combo)
{
	size_t		len;
	const char *text;

	if (!state->recording)
		return;
	if (state->nreplay >= CF_REPLAY_MAX_ITEMS)
	{
		state->recording = false;
		MemoryContextReset(state->replaycxt);
		return;
	}
	text = cfn_text(item, &len);
	if (state->nreplay > 0)
		appendStringInfoChar(&state->replay_text, ',');
	appendBinaryStringInfo(&state->replay_text, text, len);
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

static int
pages_held(CfScanState *state)
{
	return state->nfetches + (state->current != NULL ? 1 : 0);
}

/* Send the request of a combination, for the page "cursor" of a listing. */
static void
start_fetch(CfScanState *state, int combo, CfPageCursor *cursor)
{
	MemoryContext cxt = AllocSetContextCreate(state->fetchcxt, "cloud_fdw page",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext oldcxt = MemoryContextSwitchTo(cxt);
	CfFetch    *fetch = palloc0(sizeof(CfFetch));
	ErrorContextCallback errcallback;

	fetch->cxt = cxt;
	fetch->combo = combo;
	set_combination(state, combo);
	cf_build_request(state->call, state->values, state->nkeys, &state->opts, cursor,
					 false, &fetch->req);
	cf_push_request_context(&errcallback, &fetch->req);
	fetch->exchange = cf_client_start(&state->client, &fetch->req, cxt);
	error_context_stack = errcallback.previous;
	MemoryContextSwitchTo(oldcxt);
	state->window[(state->first + state->nfetches) % state->opts.concurrency] = fetch;
	state->nfetches++;
	state->stats.most_held = Max(state->stats.most_held, pages_held(state));
}

/*
 * The page after "cursor" when the total says where it is (offset or page
 * number pagination, whose first page was full): false when there is none.
 */
static bool
predict_next_page(CfScanState *state, CfPageCursor *cursor)
{
	const CfPagination *pg = state->opts.resource->pagination;
	int64		asked;

	if (pg->style == CF_PAGE_NUMBER)
	{
		asked = cursor->position * (int64) cursor->page_size;
		cursor->position++;
	}
	else
	{
		cursor->position += cursor->page_size;
		asked = cursor->position;
	}
	return asked < (int64) state->ahead_total;
}

/*
 * Send what is known to come next, while fewer than "concurrency" pages
 * are held: gets of the next combinations, the pages of a listing the
 * total makes known, then the first page of the next combination.
 */
static void
fill_window(CfScanState *state)
{
	bool		one_per_combination = state->is_get || state->count_only;

	while (pages_held(state) < state->opts.concurrency)
	{
		if (state->planned == CF_NEXT_COMBINATION)
		{
			if (state->next_combo + 1 >= state->ncombos)
				return;
			state->next_combo++;
			if (!state->is_get)
			{
				MemoryContext oldcxt = MemoryContextSwitchTo(state->execcxt);

				cf_first_page(state->opts.resource, state->opts.page_size, &state->ahead);
				MemoryContextSwitchTo(oldcxt);
			}
			state->ahead_total = -1;
			state->planned = CF_NEXT_KNOWN;
		}
		if (state->planned == CF_NEXT_AFTER_PAGE)
			return;
		start_fetch(state, state->next_combo, state->is_get ? NULL : &state->ahead);
		if (one_per_combination)
			state->planned = CF_NEXT_COMBINATION;
		else if (state->ahead_total < 0)
			state->planned = CF_NEXT_AFTER_PAGE;
		else if (!predict_next_page(state, &state->ahead))
			state->planned = CF_NEXT_COMBINATION;
	}
}

static void
count_response(CfScanState *state, CfExchange *x, const CfHttpResponse *resp,
			   instr_time started)
{
	instr_time	now;

	if (cf_client_was_cached(x))
		return;
	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, started);
	INSTR_TIME_ADD(state->stats.http_time, now);
	state->stats.requests += 1 + resp->retries;
	state->stats.retries += resp->retries;
	state->stats.bytes += resp->body_len;
}

/*
 * After a page of the combination still being asked for: what comes next
 * is now known, from the cursor, or from the total when the page was full.
 */
static void
plan_after_page(CfScanState *state, double total, int nitems)
{
	const CfPagination *pg = state->opts.resource->pagination;

	if (state->combo != state->next_combo || state->planned != CF_NEXT_AFTER_PAGE)
		return;
	if (state->cursor.done)
	{
		state->planned = CF_NEXT_COMBINATION;
		return;
	}
	/* the pages seen are the reader's to check, and to free */
	state->ahead = state->cursor;
	state->ahead.seen = NIL;
	state->planned = CF_NEXT_KNOWN;
	if (pg->style != CF_PAGE_CURSOR && total >= 0 && nitems == state->cursor.page_size)
		state->ahead_total = total;
}

/*
 * The listing being read has ended before pages asked for ahead (the
 * items changed while it was read): drop those, and ask for no more.
 */
static void
drop_rest_of_combination(CfScanState *state)
{
	while (state->nfetches > 0 && state->window[state->first]->combo == state->combo)
	{
		MemoryContextDelete(state->window[state->first]->cxt);
		state->first = (state->first + 1) % state->opts.concurrency;
		state->nfetches--;
	}
	if (state->next_combo == state->combo)
		state->planned = CF_NEXT_COMBINATION;
}

/*
 * Read the answer of the first fetch on its way: its items become the rows
 * to return.  A listing's 404 means its parent does not exist: no items.
 * When a listing ends early, its pages asked for ahead are dropped.
 */
static void
read_fetch(CfScanState *state)
{
	const CfResource *resource = state->opts.resource;
	CfFetch    *fetch = state->window[state->first];
	ErrorContextCallback errcallback;
	MemoryContext oldcxt;
	CfHttpResponse resp;
	const CfNode *answer;
	instr_time	started;

	state->first = (state->first + 1) % state->opts.concurrency;
	state->nfetches--;
	state->current = fetch;
	state->next_item = 0;
	state->nitems = 0;
	if (fetch->combo != state->combo)
	{
		state->combo = fetch->combo;
		if (!state->is_get && !state->count_only)
		{
			oldcxt = MemoryContextSwitchTo(state->execcxt);
			cf_first_page(resource, state->opts.page_size, &state->cursor);
			MemoryContextSwitchTo(oldcxt);
		}
	}

	oldcxt = MemoryContextSwitchTo(fetch->cxt);
	cf_push_request_context(&errcallback, &fetch->req);
	INSTR_TIME_SET_CURRENT(started);
	cf_client_finish(&state->client, fetch->exchange, &resp);
	count_response(state, fetch->exchange, &resp, started);
	answer = cf_client_answer(&state->client, fetch->exchange, &resp, true, state->tape);
	if (!state->is_get)
		state->stats.pages++;
	if (state->count_only)
	{
		double		total = answer ? cf_page_total(resource, answer) : 0;

		if (answer != NULL)
			cf_check_partial_errors(&state->opts, answer, state->relname);
		if (total < 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("list response has no total count \"%s\"",
							resource->pagination->total_path)));
		state->count_total += (int64) total;
	}
	else if (state->is_get)
	{
		if (answer != NULL)
		{
			state->next_node = cf_answer_item(state->call, answer);
			if (state->next_node == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("get response holds no item object")));
			state->nitems = 1;
		}
	}
	else
	{
		double		total = -1;

		if (answer == NULL)
			state->cursor.done = true;
		else
		{
			const CfNode *items;

			cf_check_partial_errors(&state->opts, answer, state->relname);
			items = cf_page_items(resource, answer);
			state->next_node = cfn_first(items);
			state->nitems = cfn_count(items);
			total = cf_page_total(resource, answer);
			MemoryContextSwitchTo(state->execcxt);
			cf_advance_cursor(resource, answer, items, &state->cursor);
		}
		plan_after_page(state, total, state->nitems);
		if (state->cursor.done)
			drop_rest_of_combination(state);
	}
	error_context_stack = errcallback.previous;
	MemoryContextSwitchTo(oldcxt);
}
static TupleTableSlot *
store_row(ForeignScanState *node, CfScanState *state, const CfNode *item, int combo)
{
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	MemoryContext oldcxt;

	set_combination(state, combo);
	MemoryContextReset(econtext->ecxt_per_tuple_memory);
	oldcxt = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
	cf_store_item(state->maps, item, state->values, state->nkeys, slot);
	MemoryContextSwitchTo(oldcxt);
	state->rows++;
	return slot;
}

/* The one row of an aggregate scan: the sum of the totals. */
static TupleTableSlot *
store_count(ForeignScanState *node, CfScanState *state)
{
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;

	ExecClearTuple(slot);
	slot->tts_values[0] = Int64GetDatum(state->count_total);
	slot->tts_isnull[0] = false;
	return ExecStoreVirtualTuple(slot);
}

/* The item of the next row, of the page being read or of the replay. */
static const CfNode *
take_item(CfScanState *state)
{
	const CfNode *item = state->next_node;

	if (++state->next_item < state->nitems)
		state->next_node = cfn_skip(item);
	return item;
}

/*
 * The next row, or an empty slot at the end; or NULL when it would have
 * to wait and may not (wait = false: an asynchronous Append asks).
 */
static TupleTableSlot *
next_row(ForeignScanState *node, CfScanState *state, bool wait)
{
	if (!state->started)
	{
		state->started = true;
		start_scan(node, state);
	}
	if (state->finished)
		return ExecClearTuple(node->ss.ss_ScanTupleSlot);

	if (state->replaying)
	{
		int			i = state->next_item;

		if (i >= state->nitems)
			return ExecClearTuple(node->ss.ss_ScanTupleSlot);
		return store_row(node, state, take_item(state), state->replay_combos[i]);
	}

	for (;;)
	{
		if (state->next_item < state->nitems)
		{
			const CfNode *item = take_item(state);

			record_item(state, item, state->combo);
			return store_row(node, state, item, state->combo);
		}
		if (state->current != NULL)
		{
			MemoryContextDelete(state->current->cxt);
			state->current = NULL;
			state->next_node = NULL;
			state->nitems = 0;
		}
		fill_window(state);
		if (state->nfetches == 0)
			break;
		if (!wait)
		{
			CfExchange *head = state->window[state->first]->exchange;

			if (!cf_client_ready(&state->client, head))
				cf_client_poll(&state->client);
			if (!cf_client_ready(&state->client, head))
				return NULL;
		}
		read_fetch(state);
		fill_window(state);
	}

	state->finished = true;
	state->replay_complete = state->recording;
	if (state->recording)
		appendStringInfoChar(&state->replay_text, ']');
	if (state->count_only)
		return store_count(node, state);
	return ExecClearTuple(node->ss.ss_ScanTupleSlot);
}

/*
 * Errors a partition may be skipped for: what the cloud answered or failed
 * to answer.  Cancellation, termination, lack of memory and our own limits
 * are never skipped.
 */
static bool
is_remote_failure(int sqlerrcode)
{
	switch (ERRCODE_TO_CATEGORY(sqlerrcode))
	{
		case ERRCODE_CONNECTION_EXCEPTION:
		case ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION:
		case ERRCODE_DATA_EXCEPTION:
		case ERRCODE_FDW_ERROR:
			return true;
	}
	return sqlerrcode == ERRCODE_INSUFFICIENT_PRIVILEGE ||
		sqlerrcode == ERRCODE_UNDEFINED_OBJECT ||
		sqlerrcode == ERRCODE_INSUFFICIENT_RESOURCES ||
		sqlerrcode == ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE ||
		sqlerrcode == ERRCODE_INVALID_PARAMETER_VALUE;
}

/* Give up on this table for the statement, saying so. */
static void
skip_partition(CfScanState *state, ErrorData *edata)
{
	drop_fetches(state);
	state->finished = true;
	state->recording = false;
	state->replay_complete = false;
	ereport(WARNING,
			(errcode(edata->sqlerrcode),
			 errmsg("skipping foreign table \"%s\" of server \"%s\": %s",
					state->relname, state->opts.server_name, edata->message),
			 edata->detail ? errdetail("%s", edata->detail) : 0,
			 state->rows > 0
			 ? errhint("It returned " INT64_FORMAT " rows before the error; its other rows are missing from the result.",
					   state->rows)
			 : errhint("Its rows are missing from the result.")));
}

/*
 * next_row, under the table's "on_partition_error": with 'warn', a table
 * whose cloud fails is skipped with a WARNING instead of failing the query.
 * Only our own code runs inside, which holds no lock or buffer, and the
 * transport aborted the connection's transfers on the way out, so the
 * error can be caught without a subtransaction.
 */
static TupleTableSlot *
next_row_or_skip(ForeignScanState *node, CfScanState *state, bool wait)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	TupleTableSlot *volatile slot = NULL;

	if (state->opts.on_partition_error != CF_PARTIAL_WARN)
		return next_row(node, state, wait);

	/* the query's own key and gate expressions may fail: that is no skip */
	if (!state->started)
	{
		state->started = true;
		start_scan(node, state);
	}
	PG_TRY();
	{
		slot = next_row(node, state, wait);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		if (!is_remote_failure(edata->sqlerrcode))
			PG_RE_THROW();
		FlushErrorState();
		skip_partition(state, edata);
		FreeErrorData(edata);
		slot = ExecClearTuple(node->ss.ss_ScanTupleSlot);
	}
	PG_END_TRY();
	return slot;
}

TupleTableSlot *
cloudIterateForeignScan(ForeignScanState *node)
{
	CfScanState *state = (CfScanState *) node->fdw_state;
	TupleTableSlot *slot = next_row_or_skip(node, state, !state->no_waiting);

	if (slot != NULL)
		return slot;
	state->would_wait = true;
	return ExecClearTuple(node->ss.ss_ScanTupleSlot);
}

void
cloudReScanForeignScan(ForeignScanState *node)
{
	CfScanState *state = (CfScanState *) node->fdw_state;

	drop_fetches(state);
	state->started = false;
}

void
cloudEndForeignScan(ForeignScanState *node)
{
	CfScanState *state = (CfScanState *) node->fdw_state;

	/* The contexts belong to the query; abandon requests and free pages early anyway. */
	if (state != NULL)
	{
		MemoryContextDelete(state->fetchcxt);
		MemoryContextDelete(state->replaycxt);
	}
}

/*
 * An asynchronous Append asks for a row: give one, or say it will come.
 * The row goes through the node (its quals, its projection), whose
 * IterateForeignScan returns an empty slot both at the end and when it
 * would have to wait, which it may not do here.
 */
static void
produce_async(AsyncRequest *areq)
{
	PlanState  *node = areq->requestee;
	CfScanState *state = (CfScanState *) ((ForeignScanState *) node)->fdw_state;
	TupleTableSlot *slot;

	state->no_waiting = true;
	state->would_wait = false;
	PG_TRY();
	{
		slot = node->ExecProcNodeReal(node);
	}
	PG_FINALLY();
	{
		state->no_waiting = false;
	}
	PG_END_TRY();
	if (!TupIsNull(slot))
		ExecAsyncRequestDone(areq, slot);
	else if (state->would_wait)
		ExecAsyncRequestPending(areq);
	else
		ExecAsyncRequestDone(areq, NULL);
}

void
cloudForeignAsyncRequest(AsyncRequest *areq)
{
	produce_async(areq);
}

/* Wake the Append up when the connection has progress to make. */
void
cloudForeignAsyncConfigureWait(AsyncRequest *areq)
{
	ForeignScanState *node = (ForeignScanState *) areq->requestee;
	CfScanState *state = (CfScanState *) node->fdw_state;
	AppendState *requestor = (AppendState *) areq->requestor;
	int			fd;

	Assert(state->nfetches > 0);
	fd = cf_client_event_fd(&state->client, &state->window[state->first]->exchange, 1);
	AddWaitEventToSet(requestor->as_eventset, WL_SOCKET_READABLE, fd, NULL, areq);
}

void
cloudForeignAsyncNotify(AsyncRequest *areq)
{
	CHECK_FOR_INTERRUPTS();
	produce_async(areq);
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
	bool		count_only = intVal(list_nth(plan->fdw_private, CF_SCAN_COUNT));
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
		if (state->stats.most_held > 1)
			ExplainPropertyInteger("Remote requests at once", NULL, state->stats.most_held, es);
		if (state->stats.retries > 0)
			ExplainPropertyInteger("Remote retries", NULL, state->stats.retries, es);
		if (state->stats.replays > 0)
			ExplainPropertyInteger("Remote replays", NULL, state->stats.replays, es);
		if (state->client.cache_ttl_ms > 0)
		{
			ExplainPropertyInteger("Cache hits", NULL, state->client.cache_hits, es);
			ExplainPropertyInteger("Cache misses", NULL, state->client.cache_misses, es);
		}
		if (es->timing)
			ExplainPropertyFloat("Remote time", "ms",
								 INSTR_TIME_GET_MILLISEC(state->stats.http_time), 3, es);
	}
	if (!es->verbose)
		return;
	cf_get_options(exec_rt_fetch(bms_next_member(plan->fs_relids, -1), node->ss.ps.state)->relid,
				   &opts);
	apply_limit(&opts, intVal(list_nth(plan->fdw_private, CF_SCAN_LIMIT)));
	if (count_only)
		opts.page_size = 1;

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
						: psprintf(count_only ? "%s (total count only)" : "%s (all pages)",
								   cf_request_text(&req)), es);
	if (keys.len > 0)
		ExplainPropertyText("Remote keys", keys.data, es);
}
