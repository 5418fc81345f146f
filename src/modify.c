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
	CfCredentials creds;
	CfConnection *conn;
	CfColumnMap *maps;
	List	   *target_attrs;	/* updated columns, shallow JSON paths first */
	List	   *fixed_attrs;	/* columns a BEFORE trigger must leave alone */
	List	   *param_attrs;	/* columns whose old value fills call parameters */
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
	struct CfPendingWrite *pending;
	int			npending;
	int		   *pending_slots;	/* scratch: the slots of the pending writes */
} CfModifyState;

/* An update call on its way, with what it needs until it is finished. */
typedef struct CfPendingWrite
{
	int			slot;
	MemoryContext cxt;
	CfHttpRequest req;
	char	   *key;
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

	return (resource != NULL && resource->update != NULL) ? (1 << CMD_UPDATE) : 0;
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

		if (TupleDescAttr(tupdesc, i)->attisdropped)
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
	const CfCall *update;
	List	   *target_attrs = NIL;
	Bitmapset  *updated;
	Relation	rel;
	int			col = -1;

	if (plan->operation != CMD_UPDATE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot %s foreign table \"%s\"",
						plan->operation == CMD_INSERT ? "insert into" : "delete from",
						get_rel_name(rte->relid)),
				 errdetail("cloud_fdw only updates existing cloud resources.")));

	cf_get_options(rte->relid, &opts);
	update = opts.resource->update;
	if (update == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot update foreign table \"%s\"", get_rel_name(rte->relid)),
				 errdetail("The cloud API offers no update call for resource \"%s\".",
						   opts.resource->name)));
	rel = table_open(rte->relid, NoLock);
	for (int i = 0; i < update->nparams; i++)
		if (update->params[i].in == CF_IN_PATH &&
			field_attnum(rel, update->params[i].field) == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
					 errmsg("foreign table \"%s\" has no column for \"%s\", which updates of resource \"%s\" need",
							get_rel_name(rte->relid), update->params[i].field, opts.resource->name),
					 errhint("Add a column mapped to JSON path \"%s\".", update->params[i].field)));

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
		ListCell   *lc;
		int			pos = 0;

		if (attnum <= InvalidAttrNumber ||
			TupleDescAttr(RelationGetDescr(rel), attnum - 1)->attgenerated)
			continue;
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

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	state = palloc0(sizeof(CfModifyState));
	rinfo->ri_FdwState = state;
	cf_get_options(RelationGetRelid(rel), &state->opts);
	resource = state->opts.resource;
	user = GetUserMapping(cf_result_rel_user(rinfo, estate), state->opts.serverid);
	cf_get_credentials(user, &state->opts, &state->creds);
	state->conn = cf_get_connection(user);
	state->maps = cf_column_maps(rel, resource, NULL);
	state->target_attrs = (List *) linitial(fdw_private);

	/* the old row fills the path parameters of the update and get calls */
	for (AttrNumber attnum = 1; attnum <= RelationGetNumberOfAttributes(rel); attnum++)
	{
		const char *path = cf_column_map_path(state->maps, attnum);

		if (path != NULL && cf_is_param_field(resource, path))
			state->param_attrs = lappend_int(state->param_attrs, attnum);
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
	state->pending_slots = palloc0(sizeof(int) * state->opts.concurrency);
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

/* Send one call of the row and wait; returns the parsed answer or NULL. */
static CfJson *
row_call(CfModifyState *state, const CfCall *call, const CfParamValue *values,
		 int nvalues, const char *body)
{
	ErrorContextCallback errcallback;
	CfHttpRequest req = {
		.method = call->method,
		.endpoint = state->opts.endpoint,
		.body = body,
		.creds = &state->creds,
		.opts = &state->opts,
	};
	CfHttpResponse resp;
	bool		is_write = (strcmp(call->method, "GET") != 0);
	CfJson	   *answer = NULL;

	req.path = cf_call_request(call, values, nvalues, &state->opts, false);
	cf_push_request_context(&errcallback, &req);
	if (is_write)
		cf_ledger_sent(state->ledger, state->current_key);
	cf_send_request(state->conn, &req, &resp);
	state->requests++;
	if (is_write)
		note_answer(state, state->current_key, resp.status);
	if (resp.status < 200 || resp.status > 299)
	{
		cf_ledger_report(state->ledger);
		cf_report_http_error(&req, &resp);
	}
	if (resp.body_len > 0)
		answer = cfj_parse(resp.body, resp.body_len, state->rowcxt);
	error_context_stack = errcallback.previous;
	return answer;
}

static void
run_actions(CfModifyState *state, List *actions, const CfParamValue *values, int nvalues)
{
	ListCell   *lc;

	foreach(lc, actions)
		(void) row_call(state, state->opts.resource->action, values, nvalues,
						((const CfFieldAction *) lfirst(lc))->body);
}

/* Start the update call of item key without waiting for it. */
static void
start_write(CfModifyState *state, EState *estate, const char *key,
			const CfParamValue *values, int nvalues, CfJson *body)
{
	CfPendingWrite *w = &state->pending[state->npending];
	MemoryContext oldcxt;

	w->cxt = AllocSetContextCreate(estate->es_query_cxt, "cloud_fdw write",
								   ALLOCSET_SMALL_SIZES);
	oldcxt = MemoryContextSwitchTo(w->cxt);
	memset(&w->req, 0, sizeof(CfHttpRequest));
	w->req.method = state->opts.resource->update->method;
	w->req.endpoint = state->opts.endpoint;
	w->req.path = cf_call_request(state->opts.resource->update, values, nvalues,
								  &state->opts, false);
	w->req.body = cfj_serialize(body);
	w->req.creds = &state->creds;
	w->req.opts = &state->opts;
	w->key = pstrdup(key);
	MemoryContextSwitchTo(oldcxt);
	cf_ledger_sent(state->ledger, w->key);
	w->slot = cf_http_start(state->conn, &w->req, w->cxt);
	state->npending++;
	state->requests++;
}

/* Wait for any of this update's calls on its way; the one finished. */
static CfPendingWrite *
wait_write(CfModifyState *state)
{
	int			slot;

	for (int i = 0; i < state->npending; i++)
		state->pending_slots[i] = state->pending[i].slot;
	slot = cf_http_wait_any(state->conn, state->pending_slots, state->npending);
	for (int i = 0; i < state->npending; i++)
		if (state->pending[i].slot == slot)
			return &state->pending[i];
	pg_unreachable();
}

/*
 * Take the answer of a finished update call into the ledger; false if the
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
	cf_http_finish(state->conn, w->slot, resp);
	error_context_stack = errcallback.previous;
	MemoryContextSwitchTo(oldcxt);
	note_answer(state, w->key, resp->status);
	return resp->status >= 200 && resp->status <= 299;
}

static void
forget_write(CfModifyState *state, CfPendingWrite *w)
{
	MemoryContextDelete(w->cxt);
	*w = state->pending[--state->npending];
}

/*
 * Wait for one update call on its way.  When the API refuses one, no new
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
	cf_report_http_error(&failed.req, &resp);
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
	CfRowUpdate update;
	CfParamValue *values;
	int			nvalues = 0;
	ErrorContextCallback errcallback;
	CfJson	   *item = NULL;
	char	   *key;
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
					   state->rowcxt, &update);
	if (update.body == NULL && update.actions_before == NIL && update.actions_after == NIL)
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
	foreach(lc, state->param_attrs)
	{
		AttrNumber	attnum = lfirst_int(lc);

		values[nvalues].field = cf_column_map_path(state->maps, attnum);
		values[nvalues++].value = row_path_value(state, rel, attnum, oldvalues[attnum - 1],
												 oldnulls[attnum - 1]);
	}

	if (state->async && update.actions_before == NIL && update.actions_after == NIL)
	{
		if (state->npending == state->opts.concurrency)
			complete_write(state);
		start_write(state, estate, key, values, nvalues, update.body);
		MemoryContextSwitchTo(oldcxt);
		return slot;
	}
	/* a row that needs several calls in order: first finish the others */
	complete_all_writes(state);

	state->current_key = key;
	cf_push_error_context(&errcallback, update_context, state);

	run_actions(state, update.actions_before, values, nvalues);
	if (update.body != NULL)
	{
		CfJson	   *answer = row_call(state, resource->update, values, nvalues,
									  cfj_serialize(update.body));

		if (resource->update->returns_item && update.actions_after == NIL)
			item = resource->update->item_path
				? cfj_get(answer, resource->update->item_path) : answer;
	}
	run_actions(state, update.actions_after, values, nvalues);

	/* the row comes back from the API: the update's answer, or a get */
	if (item == NULL)
	{
		CfJson	   *answer = row_call(state, resource->get, values, nvalues, NULL);

		item = resource->get->item_path ? cfj_get(answer, resource->get->item_path) : answer;
	}
	if (cfj_type(item) != CFJ_OBJECT)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("the cloud API's answer holds no item object")));
	cf_store_item(state->maps, item, values, nvalues, slot);
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
		MemoryContextDelete(state->rowcxt);
	}
}

void
cloudExplainForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
						  List *fdw_private, int subplan_index, ExplainState *es)
{
	CfOptions	opts;
	const CfCall *update;

	if (es->analyze && rinfo->ri_FdwState != NULL)
		ExplainPropertyInteger("Remote requests", NULL,
							   ((CfModifyState *) rinfo->ri_FdwState)->requests, es);
	if (!es->verbose)
		return;
	cf_get_options(RelationGetRelid(rinfo->ri_RelationDesc), &opts);
	update = opts.resource->update;
	ExplainPropertyText("Remote request",
						psprintf("%s %s (changed columns of each row)", update->method,
								 cf_call_request(update, NULL, 0, &opts, true)),
						es);
}
