/*-------------------------------------------------------------------------
 *
 * modify.c
 *		  UPDATE: a partial body per changed row, field actions around it, the
 *		  row back from the API's answer; without RETURNING, several update
 *		  calls on their way at once.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"


#include "access/table.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "optimizer/appendinfo.h"
#include "optimizer/inherit.h"
#include "optimizer/pathnode.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteHandler.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "cloud_fdw.h"

/* Name of the row identity column UPDATE carries to find the remote item. */
#define CF_KEY_JUNK_NAME "cloud_fdw_key"

typedef struct CfModifyState
{
	CfOptions	opts;
	CfClient	client;
	CfColumnMap *maps;
	List	   *target_attrs;	/* updated columns, shallow JSON paths first */
	List	   *fixed_attrs;	/* columns a BEFORE trigger must leave alone */
	List	   *param_attrs;	/* columns whose value fills parameters of write calls */
	AttrNumber	key_attno;		/* junk attribute with the item's key */
	AttrNumber	key_column;		/* the table's column of the key */
	AttrNumber	wholerow_attno; /* junk attribute with the old row */
	MemoryContext rowcxt;		/* reset per row */
	CfLedger   *ledger;			/* what this statement changed remotely */
	int64		requests;
	const char *current_key;	/* of the row being sent, for the error context */
	List	   *generated;		/* CfGenerated: stored generated columns */

	/*
	 * Without RETURNING or triggers nobody looks at the rows the API sends
	 * back, so update calls need not be waited for one by one: up to
	 * "concurrency" of them are on their way at once.
	 */
	bool		async;

	/*
	 * With the table's cache on, the item a write answers replaces the
	 * cached answer of its get (when the statement ends).
	 */
	bool		remember_gets;
	struct CfPendingWrite *pending;
	int			npending;
	CfExchange **pending_exchanges; /* scratch: the exchanges of the pending writes */
} CfModifyState;

/* A write call on its way, with what it needs until it is finished. */
typedef struct CfPendingWrite
{
	CfExchange *exchange;
	MemoryContext cxt;
	CfRequest	req;
	char	   *key;
	const CfCall *call;
	CfRequest	get;			/* of the row: its answer is remembered; method NULL: not */
} CfPendingWrite;

/* A stored generated column, computed locally from the row the API sends back. */
typedef struct CfGenerated
{
	AttrNumber	attnum;
	ExprState  *expr;
} CfGenerated;

static void init_row_columns(CfModifyState *state, Relation rel, EState *estate);

int
cloudIsForeignRelUpdatable(Relation rel)
{
	const CfResource *resource = cf_table_resource(RelationGetRelid(rel));

	return (resource != NULL && cf_resource_is_updatable(resource)) ? (1 << CMD_UPDATE) : 0;
}

/* UPDATE finds the remote item by its key, carried as a junk column. */
void
cloudAddForeignUpdateTargets(PlannerInfo *root, Index rtindex,
							 RangeTblEntry *target_rte, Relation target_relation)
{
	CfOptions	opts;
	AttrNumber	attnum;
	Form_pg_attribute att;
	Var		   *var;

	cf_get_options(RelationGetRelid(target_relation), &opts);
	attnum = cf_key_attnum(target_relation, opts.resource);
	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
				 errmsg("foreign table \"%s\" has no column for the key of resource \"%s\"",
						RelationGetRelationName(target_relation), opts.resource->name),
				 errhint("Add a column mapped to JSON path \"%s\" to update this table.",
						 cf_key_column(opts.resource)->path)));

	att = TupleDescAttr(RelationGetDescr(target_relation), attnum - 1);
	var = makeVar(rtindex, attnum, att->atttypid, att->atttypmod, att->attcollation, 0);
	add_row_identity_var(root, var, rtindex, CF_KEY_JUNK_NAME);
}

/* The calls an UPDATE of the resource may make, each once. */
static List *
write_calls(const CfResource *resource)
{
	List	   *calls = NIL;

	if (resource->update != NULL)
		calls = lappend(calls, (void *) resource->update);
	if (resource->refetch != NULL)
		calls = lappend(calls, (void *) resource->refetch);
	for (int i = 0; i < resource->nactions; i++)
		calls = list_append_unique_ptr(calls, (void *) resource->actions[i].call);
	return calls;
}

static int
path_depth(const char *path)
{
	int			depth = 0;

	for (; *path; path++)
		depth += (*path == '.');
	return depth;
}

/* The column mapped to a field, or InvalidAttrNumber. */
static AttrNumber
field_attnum(Relation rel, const char *field)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);

	for (int i = 0; i < tupdesc->natts; i++)
		if (!TupleDescAttr(tupdesc, i)->attisdropped &&
			strcmp(cf_column_path(RelationGetRelid(rel), i + 1), field) == 0)
			return i + 1;
	return InvalidAttrNumber;
}

static bool
has_before_row_triggers(Relation rel)
{
	return rel->trigdesc != NULL && rel->trigdesc->trig_update_before_row;
}

/* The columns (as updatedCols members) the API accepts in an update. */
static Bitmapset *
updatable_columns(Relation rel, const CfResource *resource)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	Bitmapset  *cols = NULL;

	for (int i = 0; i < tupdesc->natts; i++)
	{
		const CfColumn *governing;

		if (TupleDescAttr(tupdesc, i)->attisdropped ||
			cf_column_is_fixed(RelationGetRelid(rel), i + 1))
			continue;
		governing = cf_governing_column(resource, cf_column_path(RelationGetRelid(rel), i + 1));
		if (governing != NULL && (governing->flags & CF_COL_UPDATABLE))
			cols = bms_add_member(cols, i + 1 - FirstLowInvalidHeapAttributeNumber);
	}
	return cols;
}

/*
 * Check at plan time that every SET column is a field the API lets us
 * change and that the row carries what the update call's path needs, and
 * order the columns so that shallower JSON paths are written first.
 */
List *
cloudPlanForeignModify(PlannerInfo *root, ModifyTable *plan, Index resultRelation,
					   int subplan_index)
{
	RangeTblEntry *rte = planner_rt_fetch(resultRelation, root);
	CfOptions	opts;
	List	   *calls;
	List	   *target_attrs = NIL;
	Bitmapset  *updated;
	Relation	rel;
	int			col = -1;
	ListCell   *lc;

	if (plan->operation != CMD_UPDATE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot %s foreign table \"%s\"",
						plan->operation == CMD_INSERT ? "insert into" : "delete from",
						get_rel_name(rte->relid)),
				 errdetail("cloud_fdw only updates existing cloud resources.")));

	cf_get_options(rte->relid, &opts);
	if (!cf_resource_is_updatable(opts.resource))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot update foreign table \"%s\"", get_rel_name(rte->relid)),
				 errdetail("The cloud API offers no update call for resource \"%s\".",
						   opts.resource->name)));
	if (plan->returningLists != NIL && opts.resource->no_returning_reason != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot use RETURNING with an UPDATE of foreign table \"%s\"",
						get_rel_name(rte->relid)),
				 errdetail("%s", opts.resource->no_returning_reason)));
	rel = table_open(rte->relid, NoLock);
	calls = write_calls(opts.resource);
	foreach(lc, calls)
	{
		const CfCall *call = (const CfCall *) lfirst(lc);

		for (int i = 0; i < call->nparams; i++)
			if (call->params[i].required &&
				field_attnum(rel, call->params[i].field) == InvalidAttrNumber)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
						 errmsg("foreign table \"%s\" has no column for \"%s\", which updates of resource \"%s\" need",
								get_rel_name(rte->relid), call->params[i].field, opts.resource->name),
						 errhint("Add a column mapped to JSON path \"%s\".", call->params[i].field)));
	}

	/*
	 * The SET columns, and with BEFORE ROW triggers (which may change any
	 * column) every column the API lets us change; stored generated columns
	 * are computed locally, never sent.
	 */
	updated = get_rel_all_updated_cols(root, find_base_rel(root, resultRelation));
	if (has_before_row_triggers(rel))
		updated = bms_add_members(updated, updatable_columns(rel, opts.resource));
	while ((col = bms_next_member(updated, col)) >= 0)
	{
		AttrNumber	attnum = col + FirstLowInvalidHeapAttributeNumber;
		const char *path;
		const CfColumn *governing;
		int			pos = 0;

		if (attnum <= InvalidAttrNumber ||
			TupleDescAttr(RelationGetDescr(rel), attnum - 1)->attgenerated)
			continue;
		if (cf_column_is_fixed(rte->relid, attnum))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("column \"%s\" of foreign table \"%s\" cannot be updated",
							get_attname(rte->relid, attnum, false), get_rel_name(rte->relid)),
					 errdetail("Its value is fixed by the table (column option \"value\"), not by the cloud API.")));
		path = cf_column_path(rte->relid, attnum);
		governing = cf_governing_column(opts.resource, path);
		if (governing == NULL || !(governing->flags & CF_COL_UPDATABLE))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("column \"%s\" of foreign table \"%s\" cannot be updated",
							get_attname(rte->relid, attnum, false), get_rel_name(rte->relid)),
					 governing == NULL
					 ? errdetail("JSON path \"%s\" is not a field resource \"%s\" is known to accept in an update.",
								 path, opts.resource->name)
					 : errdetail("The cloud API treats \"%s\" of resource \"%s\" as read-only.",
								 governing->path, opts.resource->name)));

		foreach(lc, target_attrs)
		{
			if (path_depth(cf_column_path(rte->relid, lfirst_int(lc))) > path_depth(path))
				break;
			pos++;
		}
		target_attrs = list_insert_nth_int(target_attrs, pos, attnum);
	}
	table_close(rel, NoLock);
	return list_make1(target_attrs);
}

void
cloudBeginForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
						List *fdw_private, int subplan_index, int eflags)
{
	EState	   *estate = mtstate->ps.state;
	Relation	rel = rinfo->ri_RelationDesc;
	Plan	   *subplan = outerPlanState(mtstate)->plan;
	const CfResource *resource;
	CfModifyState *state;
	UserMapping *user;
	List	   *calls;
	ListCell   *lc;

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	state = palloc0(sizeof(CfModifyState));
	rinfo->ri_FdwState = state;
	cf_get_options(RelationGetRelid(rel), &state->opts);
	resource = state->opts.resource;
	user = GetUserMapping(cf_result_rel_user(rinfo, estate), state->opts.serverid);
	cf_client_open(&state->client, user, &state->opts);
	state->maps = cf_column_maps(rel, resource, true, NULL);
	state->target_attrs = (List *) linitial(fdw_private);
	state->remember_gets = state->opts.cache_ttl_ms > 0 && resource->get != NULL;

	/* the row fills the parameters of the write calls, of the refetch and of the get */
	calls = write_calls(resource);
	if (state->remember_gets)
		calls = list_append_unique_ptr(calls, (void *) resource->get);
	for (AttrNumber attnum = 1; attnum <= RelationGetNumberOfAttributes(rel); attnum++)
	{
		const char *path = cf_column_map_path(state->maps, attnum);

		foreach(lc, calls)
			if (path != NULL && cf_call_param((const CfCall *) lfirst(lc), path) != NULL)
			{
				state->param_attrs = lappend_int(state->param_attrs, attnum);
				break;
			}
	}

	state->key_column = cf_key_attnum(rel, resource);
	state->key_attno = ExecFindJunkAttributeInTlist(subplan->targetlist, CF_KEY_JUNK_NAME);
	state->wholerow_attno = ExecFindJunkAttributeInTlist(subplan->targetlist, "wholerow");
	/* AddForeignUpdateTargets added them; the planner always keeps "wholerow" */
	Assert(AttributeNumberIsValid(state->key_attno) &&
		   AttributeNumberIsValid(state->wholerow_attno));

	state->rowcxt = AllocSetContextCreate(estate->es_query_cxt,
										  "cloud_fdw update row",
										  ALLOCSET_DEFAULT_SIZES);
	state->async = (((ModifyTable *) mtstate->ps.plan)->returningLists == NIL &&
					rinfo->ri_TrigDesc == NULL);
	state->pending = palloc0(sizeof(CfPendingWrite) * state->opts.concurrency);
	state->pending_exchanges = palloc0(sizeof(CfExchange *) * state->opts.concurrency);
	init_row_columns(state, rel, estate);
	state->ledger = cf_ledger_open(RelationGetRelationName(rel));
}

/*
 * The columns a row's update treats apart: those a BEFORE ROW trigger must
 * not change because the API cannot (no SET reaches them otherwise), and
 * the stored generated ones, computed here from the row the API returns.
 */
static void
init_row_columns(CfModifyState *state, Relation rel, EState *estate)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);

	for (AttrNumber attnum = 1; attnum <= tupdesc->natts; attnum++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, attnum - 1);

		if (att->attisdropped)
			continue;
		if (att->attgenerated == ATTRIBUTE_GENERATED_STORED)
		{
			CfGenerated *gen = palloc(sizeof(CfGenerated));

			gen->attnum = attnum;
			gen->expr = ExecPrepareExpr((Expr *) build_column_default(rel, attnum), estate);
			state->generated = lappend(state->generated, gen);
		}
		else if (has_before_row_triggers(rel) && !list_member_int(state->target_attrs, attnum))
			state->fixed_attrs = lappend_int(state->fixed_attrs, attnum);
	}
}

/* Name the row being sent in any error's CONTEXT. */
static void
update_context(void *arg)
{
	CfModifyState *state = (CfModifyState *) arg;

	errcontext("updating item \"%s\" of resource \"%s\"",
			   state->current_key, state->opts.resource->name);
}

/*
 * Whether an answer to a write says for sure that nothing was applied: a
 * client error, or a service unavailable.  Any other error status may
 * come after the change was made, and leaves the write in doubt.
 */
static bool
write_refused(long status)
{
	return status < 500 || status == 503;
}

/* Enter an answer to a write call of an item in the ledger. */
static void
note_answer(CfModifyState *state, const char *key, long status)
{
	bool		applied = (status >= 200 && status <= 299);

	if (applied || write_refused(status))
		cf_ledger_answered(state->ledger, key, applied);
}

/*
 * The answer of a write call: entered in the ledger, an error status
 * reported after the ledger (so that the statement's summary comes first),
 * else parsed (NULL: no body).
 */
static const CfNode *
write_answer(CfModifyState *state, CfExchange *x, const char *key,
			 const CfHttpResponse *resp)
{
	note_answer(state, key, resp->status);
	if (resp->status < 200 || resp->status > 299)
		cf_ledger_report(state->ledger);
	return cf_client_answer(&state->client, x, resp, false, cf_tape_create(state->rowcxt));
}

/* Remember an item the API answered as the answer of the row's get. */
static void
remember_item(CfModifyState *state, const CfRequest *get, const CfNode *item, MemoryContext cxt)
{
	const char *item_path = state->opts.resource->get->item_path;
	const char *text;
	size_t		len;

	if (item == NULL)
		return;
	if (item_path == NULL)
		text = cfn_text(item, &len);
	else
	{
		CfJson	   *answer = cfj_new_object(cxt);

		cfj_set_path(answer, item_path, cfn_to_json(item, cxt), cxt);
		text = cfj_serialize(answer);
		len = strlen(text);
	}
	cf_client_remember(&state->client, get, text, len);
}

/* Make one call of the row and wait; returns the parsed answer or NULL. */
static const CfNode *
row_call(CfModifyState *state, const CfCall *call, const CfParamValue *values,
		 int nvalues, const char *body)
{
	ErrorContextCallback errcallback;
	CfRequest	req;
	CfHttpResponse resp;
	const CfNode *answer;

	cf_build_request(call, values, nvalues, &state->opts, NULL, false, &req);
	if (body != NULL)
		req.body = body;
	cf_push_request_context(&errcallback, &req);
	if (!req.writes)
		answer = cf_call_answer(&state->client, &req, false, state->rowcxt, &resp);
	else
	{
		CfExchange *x;

		cf_ledger_sent(state->ledger, state->current_key);
		x = cf_client_start(&state->client, &req, state->rowcxt);
		cf_client_finish(&state->client, x, &resp);
		answer = write_answer(state, x, state->current_key, &resp);
	}
	state->requests++;
	error_context_stack = errcallback.previous;
	return answer;
}

/*
 * Start the one write call of item key without waiting for it; get, if
 * not NULL, is the row's get whose answer the call's will replace.
 */
static void
start_write(CfModifyState *state, EState *estate, const char *key,
			const CfRowCall *rc, const CfParamValue *values, int nvalues,
			const CfRequest *get)
{
	CfPendingWrite *w = &state->pending[state->npending];
	MemoryContext oldcxt;

	w->cxt = AllocSetContextCreate(estate->es_query_cxt, "cloud_fdw write",
								   ALLOCSET_SMALL_SIZES);
	oldcxt = MemoryContextSwitchTo(w->cxt);
	cf_build_request(rc->call, values, nvalues, &state->opts, NULL, false, &w->req);
	if (rc->body != NULL)
		w->req.body = pstrdup(rc->body);
	w->key = pstrdup(key);
	w->call = rc->call;
	memset(&w->get, 0, sizeof(CfRequest));
	if (get != NULL && rc->call->returns_item)
	{
		w->get = *get;
		w->get.path = pstrdup(get->path);
	}
	MemoryContextSwitchTo(oldcxt);
	cf_ledger_sent(state->ledger, w->key);
	w->exchange = cf_client_start(&state->client, &w->req, w->cxt);
	state->npending++;
	state->requests++;
}

/* Wait for any of this update's calls on its way; the one finished. */
static CfPendingWrite *
wait_write(CfModifyState *state)
{
	CfExchange *done;

	for (int i = 0; i < state->npending; i++)
		state->pending_exchanges[i] = state->pending[i].exchange;
	done = cf_client_wait_any(&state->client, state->pending_exchanges, state->npending);
	for (int i = 0; i < state->npending; i++)
		if (state->pending[i].exchange == done)
			return &state->pending[i];
	pg_unreachable();
}

/*
 * Take the answer of a finished write call into the ledger; false if the
 * API refused it.  A transport failure (no answer) raises an error here
 * and leaves the write in doubt.
 */
static bool
finish_write(CfModifyState *state, CfPendingWrite *w, CfHttpResponse *resp)
{
	ErrorContextCallback errcallback;
	MemoryContext oldcxt = MemoryContextSwitchTo(w->cxt);

	state->current_key = w->key;
	cf_push_request_context(&errcallback, &w->req);
	cf_client_finish(&state->client, w->exchange, resp);
	error_context_stack = errcallback.previous;
	note_answer(state, w->key, resp->status);
	if (w->get.method != NULL && resp->status >= 200 && resp->status <= 299)
	{
		/* nobody reads this answer but the cache: one that does not parse is no error */
		const CfNode *answer = cf_tape_try_parse(cf_tape_create(w->cxt), resp->body,
												 resp->body_len);

		if (answer != NULL)
			remember_item(state, &w->get, cf_answer_item(w->call, answer), w->cxt);
	}
	MemoryContextSwitchTo(oldcxt);
	return resp->status >= 200 && resp->status <= 299;
}

static void
forget_write(CfModifyState *state, CfPendingWrite *w)
{
	MemoryContextDelete(w->cxt);
	*w = state->pending[--state->npending];
}

/*
 * Wait for one write call on its way.  When the API refuses one, no new
 * call is started, and those already sent are waited for, so that the
 * ledger knows exactly which rows were changed remotely when the error
 * ends the statement.
 */
static void
complete_write(CfModifyState *state)
{
	CfPendingWrite *w = wait_write(state);
	CfPendingWrite failed;
	CfHttpResponse resp;
	ErrorContextCallback update_errcallback;
	ErrorContextCallback request_errcallback;

	cf_push_error_context(&update_errcallback, update_context, state);
	if (finish_write(state, w, &resp))
	{
		forget_write(state, w);
		error_context_stack = update_errcallback.previous;
		return;
	}

	/* settle the others, then report this refusal */
	failed = *w;
	*w = state->pending[--state->npending];
	while (state->npending > 0)
	{
		CfPendingWrite *other = wait_write(state);
		CfHttpResponse other_resp;

		(void) finish_write(state, other, &other_resp);
		forget_write(state, other);
	}
	state->current_key = failed.key;
	cf_ledger_report(state->ledger);
	cf_push_request_context(&request_errcallback, &failed.req);
	cf_report_http_error(state->opts.provider->envelope, &resp);
}

static void
complete_all_writes(CfModifyState *state)
{
	while (state->npending > 0)
		complete_write(state);
}

/*
 * The text of a path value of the row, which must name one item: not
 * null, not empty, not "." or "..".  Checked before anything is sent.
 */
static char *
row_path_value(CfModifyState *state, Relation rel, AttrNumber attnum, Datum value, bool isnull)
{
	char	   *text = isnull ? NULL : cf_datum_to_key(state->maps, attnum, value);

	if (text == NULL || !cf_key_is_addressable(text))
		ereport(ERROR,
				(errcode(isnull ? ERRCODE_NULL_VALUE_NOT_ALLOWED : ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot update a row of foreign table \"%s\" whose column \"%s\" is %s",
						RelationGetRelationName(rel), cf_column_map_name(state->maps, attnum),
						isnull ? "null" : psprintf("\"%s\"", text)),
				 errdetail("Column \"%s\" names the item to update in the request path of resource \"%s\".",
						   cf_column_map_name(state->maps, attnum), state->opts.resource->name)));
	return text;
}

/* A BEFORE ROW trigger changed a column the API cannot change: refuse. */
static void
check_fixed_columns(CfModifyState *state, Relation rel, Datum *oldvalues, bool *oldnulls,
					TupleTableSlot *slot)
{
	ListCell   *lc;

	foreach(lc, state->fixed_attrs)
	{
		int			i = lfirst_int(lc) - 1;

		if (oldnulls[i] != slot->tts_isnull[i] ||
			(!oldnulls[i] && !cf_datums_equal(state->maps, i + 1, oldvalues[i], slot->tts_values[i])))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("a trigger changed column \"%s\" of foreign table \"%s\", which cannot be updated",
							cf_column_map_name(state->maps, i + 1), RelationGetRelationName(rel)),
					 errdetail("The cloud API does not accept field \"%s\" of resource \"%s\" in an update.",
							   cf_column_map_path(state->maps, i + 1), state->opts.resource->name)));
	}
}

/* Compute the stored generated columns of a row the API sent back. */
static void
compute_generated(CfModifyState *state, EState *estate, TupleTableSlot *slot)
{
	ExprContext *econtext = GetPerTupleExprContext(estate);
	ListCell   *lc;

	if (state->generated == NIL)
		return;
	econtext->ecxt_scantuple = slot;
	foreach(lc, state->generated)
	{
		CfGenerated *gen = (CfGenerated *) lfirst(lc);
		int			i = gen->attnum - 1;

		slot->tts_values[i] = ExecEvalExpr(gen->expr, econtext, &slot->tts_isnull[i]);
	}
}

/*
 * The values a call of the row takes: the old row's (a move's target: the
 * new row's).  A path value must name one item; an optional value that is
 * null or empty is not sent.  Returns how many there are.
 */
static int
call_values(CfModifyState *state, Relation rel, const CfCall *call,
			Datum *oldvalues, bool *oldnulls, TupleTableSlot *slot, CfParamValue *values)
{
	int			nvalues = 0;
	ListCell   *lc;

	foreach(lc, state->param_attrs)
	{
		AttrNumber	attnum = lfirst_int(lc);
		const char *path = cf_column_map_path(state->maps, attnum);
		const CfCallParam *param = call ? cf_call_param(call, path) : NULL;
		bool		from_new = (param != NULL && param->new_value);
		Datum		value = from_new ? slot->tts_values[attnum - 1] : oldvalues[attnum - 1];
		bool		isnull = from_new ? slot->tts_isnull[attnum - 1] : oldnulls[attnum - 1];
		char	   *text;

		if (call != NULL && param == NULL)
			continue;
		if (call != NULL && param->in == CF_IN_PATH)
			text = row_path_value(state, rel, attnum, value, isnull);
		else if (isnull || (text = cf_datum_to_key(state->maps, attnum, value))[0] == '\0')
			continue;
		values[nvalues].field = path;
		values[nvalues++].value = text;
	}
	return nvalues;
}

/*
 * The get of the row as it is after the update, when its answer is to be
 * remembered and every value of its path is known; false otherwise.
 */
static bool
row_get(CfModifyState *state, Relation rel, TupleTableSlot *slot, CfRequest *get)
{
	const CfCall *call = state->opts.resource->get;
	CfParamValue *values;
	int			nvalues;
	ListCell   *lc;

	if (!state->remember_gets)
		return false;
	foreach(lc, state->param_attrs)
	{
		AttrNumber	attnum = lfirst_int(lc);
		const CfCallParam *param = cf_call_param(call, cf_column_map_path(state->maps, attnum));

		if (param != NULL && param->in == CF_IN_PATH &&
			(slot->tts_isnull[attnum - 1] ||
			 !cf_key_is_addressable(cf_datum_to_key(state->maps, attnum,
													slot->tts_values[attnum - 1]))))
			return false;
	}
	values = palloc0(sizeof(CfParamValue) * Max(1, list_length(state->param_attrs)));
	nvalues = call_values(state, rel, call, slot->tts_values, slot->tts_isnull, slot, values);
	cf_build_request(call, values, nvalues, &state->opts, NULL, false, get);
	return true;
}

TupleTableSlot *
cloudExecForeignUpdate(EState *estate, ResultRelInfo *rinfo,
					   TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	CfModifyState *state = (CfModifyState *) rinfo->ri_FdwState;
	const CfResource *resource = state->opts.resource;
	Relation	rel = rinfo->ri_RelationDesc;
	TupleDesc	tupdesc = RelationGetDescr(rel);
	MemoryContext oldcxt;
	Datum		datum;
	bool		isnull;
	HeapTupleData oldtuple;
	Datum	   *oldvalues;
	bool	   *oldnulls;
	List	   *calls;
	CfParamValue *values;
	int			nvalues;
	ErrorContextCallback errcallback;
	const CfNode *item = NULL;
	char	   *key;
	CfRequest	get;
	bool		has_get;
	ListCell   *lc;

	MemoryContextReset(state->rowcxt);
	oldcxt = MemoryContextSwitchTo(state->rowcxt);

	datum = ExecGetJunkAttribute(planSlot, state->key_attno, &isnull);
	key = row_path_value(state, rel, state->key_column, datum, isnull);
	if (!cf_ledger_first_visit(state->ledger, key))
	{
		/* joined twice by UPDATE ... FROM: like PostgreSQL, update it once */
		MemoryContextSwitchTo(oldcxt);
		return NULL;
	}

	datum = ExecGetJunkAttribute(planSlot, state->wholerow_attno, &isnull);
	Assert(!isnull);
	oldtuple.t_data = DatumGetHeapTupleHeader(datum);
	oldtuple.t_len = HeapTupleHeaderGetDatumLength(oldtuple.t_data);
	oldvalues = palloc(sizeof(Datum) * tupdesc->natts);
	oldnulls = palloc(sizeof(bool) * tupdesc->natts);
	heap_deform_tuple(&oldtuple, tupdesc, oldvalues, oldnulls);
	slot_getallattrs(slot);
	check_fixed_columns(state, rel, oldvalues, oldnulls, slot);

	cf_plan_row_update(resource, state->maps, state->target_attrs, tupdesc->natts,
					   oldvalues, oldnulls, slot->tts_values, slot->tts_isnull,
					   state->rowcxt, &calls);
	if (calls == NIL)
	{
		/* nothing changed: nothing to send, and the row stays as it is */
		MemoryContextSwitchTo(oldcxt);
		return slot;
	}
	if (resource->fixed_key != NULL && strcmp(key, resource->fixed_key) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot update item \"%s\" of foreign table \"%s\"",
						key, RelationGetRelationName(rel)),
				 errdetail("%s", resource->fixed_key_reason)));

	values = palloc0(sizeof(CfParamValue) * Max(1, list_length(state->param_attrs)));
	has_get = row_get(state, rel, slot, &get);
	if (state->async && list_length(calls) == 1)
	{
		CfRowCall  *rc = linitial(calls);

		nvalues = call_values(state, rel, rc->call, oldvalues, oldnulls, slot, values);
		if (state->npending == state->opts.concurrency)
			complete_write(state);
		start_write(state, estate, key, rc, values, nvalues, has_get ? &get : NULL);
		MemoryContextSwitchTo(oldcxt);
		return slot;
	}
	/* a row that needs several calls in order, or its row back: first finish the others */
	complete_all_writes(state);

	state->current_key = key;
	cf_push_error_context(&errcallback, update_context, state);

	foreach(lc, calls)
	{
		CfRowCall  *rc = lfirst(lc);
		const CfNode *answer;

		nvalues = call_values(state, rel, rc->call, oldvalues, oldnulls, slot, values);
		answer = row_call(state, rc->call, values, nvalues, rc->body);
		/* only the last call's answer holds the row as it ends up */
		item = (rc->call->returns_item && lnext(calls, lc) == NULL)
			? cf_answer_item(rc->call, answer) : NULL;
	}

	/* the row comes back from the API: the last answer, or a get; else as sent */
	if (item == NULL && resource->refetch != NULL)
	{
		nvalues = call_values(state, rel, resource->refetch, oldvalues, oldnulls, slot, values);
		item = cf_answer_item(resource->refetch,
							  row_call(state, resource->refetch, values, nvalues, NULL));
		if (item == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("the cloud API's answer holds no item object")));
	}
	if (item != NULL)
	{
		if (has_get)
			remember_item(state, &get, item, state->rowcxt);
		nvalues = call_values(state, rel, NULL, oldvalues, oldnulls, slot, values);
		cf_store_item(state->maps, item, values, nvalues, slot);
	}
	compute_generated(state, estate, slot);

	error_context_stack = errcallback.previous;
	MemoryContextSwitchTo(oldcxt);
	return slot;
}

void
cloudEndForeignModify(EState *estate, ResultRelInfo *rinfo)
{
	CfModifyState *state = (CfModifyState *) rinfo->ri_FdwState;

	if (state != NULL)
	{
		complete_all_writes(state);
		cf_ledger_close(state->ledger);
		cf_cache_end_statement();
		MemoryContextDelete(state->rowcxt);
	}
}

void
cloudExplainForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
						  List *fdw_private, int subplan_index, ExplainState *es)
{
	CfOptions	opts;
	const CfResource *resource;
	CfRequest	req;

	if (es->analyze && rinfo->ri_FdwState != NULL)
		ExplainPropertyInteger("Remote requests", NULL,
							   ((CfModifyState *) rinfo->ri_FdwState)->requests, es);
	if (!es->verbose)
		return;
	cf_get_options(RelationGetRelid(rinfo->ri_RelationDesc), &opts);
	resource = opts.resource;
	if (resource->update != NULL)
	{
		cf_build_request(resource->update, NULL, 0, &opts, NULL, true, &req);
		ExplainPropertyText("Remote request",
							psprintf("%s (changed columns of each row)", cf_request_text(&req)), es);
	}
	else
	{
		cf_build_request(resource->actions[0].call, NULL, 0, &opts, NULL, true, &req);
		ExplainPropertyText("Remote request",
							psprintf("%s (each row whose \"%s\" changes)", cf_request_text(&req),
									 resource->actions[0].field), es);
	}
}
