/*-------------------------------------------------------------------------
 *
 * connection.c
 *		  Connection cache: one HTTP handle (and so one pool of keep-alive
 *		  connections) per user mapping, for the life of the backend.
 *
 * Entries are never freed, only their handle is, so a pointer to an entry
 * stays valid across invalidation and cloud_fdw_disconnect_all().  Altering
 * or dropping the server or the user mapping marks the entry invalid; its
 * handle is closed at the end of the transaction (a dropped mapping's would
 * otherwise stay open for good), and the next query opens a fresh one.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "catalog/pg_user_mapping.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "cloud_fdw.h"

struct CfConnection
{
	Oid			umid;			/* hash key: the user mapping's OID */
	Oid			serverid;
	Oid			umuser;			/* the mapping's user; InvalidOid: PUBLIC */
	CfHttpHandle *handle;		/* the transport's; NULL when closed */
	bool		invalidated;	/* server or user mapping changed */
	uint32		server_hashvalue;
	uint32		mapping_hashvalue;
	bool		wrote;			/* sent a write in this transaction */
	CfTokenCache tokens;		/* bought with the mapping's credentials */
};

static HTAB *connection_cache = NULL;

static void
close_handle(CfConnection *entry)
{
	if (entry->handle != NULL)
	{
		CfHttpHandle *handle = entry->handle;

		entry->handle = NULL;
		cf_http_close(handle);
	}
	/* tokens were bought with the old credentials */
	cf_token_forget_all(&entry->tokens);
}

/* Syscache callback: hashvalue 0 means "everything may have changed". */
static void
invalidate_connections(Datum arg, int cacheid, uint32 hashvalue)
{
	HASH_SEQ_STATUS scan;
	CfConnection *entry;

	hash_seq_init(&scan, connection_cache);
	while ((entry = hash_seq_search(&scan)) != NULL)
	{
		uint32		entry_hash = (cacheid == FOREIGNSERVEROID)
			? entry->server_hashvalue : entry->mapping_hashvalue;

		if (hashvalue == 0 || hashvalue == entry_hash)
			entry->invalidated = true;
	}
}

/*
 * At the end of a transaction: abort transfers left on their way by an
 * error (ledger.c reports the writes among them as in doubt), refuse
 * PREPARE TRANSACTION after remote writes, which no rollback of the
 * prepared transaction could undo, and close the handles of invalidated
 * entries, as postgres_fdw does.
 */
static void
connection_xact_callback(XactEvent event, void *arg)
{
	HASH_SEQ_STATUS scan;
	CfConnection *entry;

	hash_seq_init(&scan, connection_cache);
	while ((entry = hash_seq_search(&scan)) != NULL)
	{
		switch (event)
		{
			case XACT_EVENT_PRE_PREPARE:
				if (entry->wrote)
				{
					hash_seq_term(&scan);
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("cannot prepare a transaction that has changed cloud resources"),
							 errdetail("Cloud APIs are not transactional: their changes are already applied.")));
				}
				break;
			case XACT_EVENT_ABORT:
			case XACT_EVENT_PARALLEL_ABORT:
				if (entry->handle != NULL)
					cf_http_abort(entry->handle, InvalidSubTransactionId);
				/* FALLTHROUGH */
			case XACT_EVENT_COMMIT:
			case XACT_EVENT_PARALLEL_COMMIT:
			case XACT_EVENT_PREPARE:
				entry->wrote = false;
				if (entry->invalidated)
					close_handle(entry);
				break;
			default:
				break;
		}
	}
}

static void
connection_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
							SubTransactionId parentSubid, void *arg)
{
	HASH_SEQ_STATUS scan;
	CfConnection *entry;

	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	hash_seq_init(&scan, connection_cache);
	while ((entry = hash_seq_search(&scan)) != NULL)
		if (entry->handle != NULL)
			cf_http_abort(entry->handle, mySubid);
}

void
cf_connection_mark_write(CfConnection *conn)
{
	conn->wrote = true;
}

static void
init_connection_cache(void)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(CfConnection);
	connection_cache = hash_create("cloud_fdw connections", 8, &ctl,
								   HASH_ELEM | HASH_BLOBS);
	CacheRegisterSyscacheCallback(FOREIGNSERVEROID, invalidate_connections, (Datum) 0);
	CacheRegisterSyscacheCallback(USERMAPPINGOID, invalidate_connections, (Datum) 0);
	RegisterXactCallback(connection_xact_callback, NULL);
	RegisterSubXactCallback(connection_subxact_callback, NULL);
}

/*
 * The user a mapping is for: UserMapping has the user it was looked up for,
 * who may be using a PUBLIC mapping.
 */
static Oid
mapping_user(UserMapping *user)
{
	HeapTuple	tuple = SearchSysCache1(USERMAPPINGOID, ObjectIdGetDatum(user->umid));
	Oid			umuser;

	if (!HeapTupleIsValid(tuple))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("user mapping %u does not exist", user->umid)));
	umuser = ((Form_pg_user_mapping) GETSTRUCT(tuple))->umuser;
	ReleaseSysCache(tuple);
	return umuser;
}

/* The cache entry of a user mapping, with a handle that reflects its options. */
CfConnection *
cf_get_connection(UserMapping *user)
{
	CfConnection *entry;
	bool		found;

	if (connection_cache == NULL)
		init_connection_cache();

	entry = hash_search(connection_cache, &user->umid, HASH_ENTER, &found);
	if (!found)
	{
		entry->handle = NULL;
		entry->invalidated = false;
		entry->wrote = false;
		memset(&entry->tokens, 0, sizeof(entry->tokens));
	}
	else if (entry->invalidated)
		close_handle(entry);

	entry->serverid = user->serverid;
	entry->umuser = mapping_user(user);
	entry->invalidated = false;
	entry->server_hashvalue = GetSysCacheHashValue1(FOREIGNSERVEROID,
													ObjectIdGetDatum(user->serverid));
	entry->mapping_hashvalue = GetSysCacheHashValue1(USERMAPPINGOID,
													 ObjectIdGetDatum(user->umid));
	return entry;
}

/* The entry's transport handle, opened on first use. */
CfHttpHandle *
cf_connection_http(CfConnection *conn)
{
	if (conn->handle == NULL)
		conn->handle = cf_http_open();
	return conn->handle;
}

CfTokenCache *
cf_connection_tokens(CfConnection *conn)
{
	return &conn->tokens;
}

/* The entry's transport handle if it is open, or NULL; opens none. */
CfHttpHandle *
cf_connection_open_http(CfConnection *conn)
{
	return conn->handle;
}

PG_FUNCTION_INFO_V1(cloud_fdw_get_connections);

/*
 * One row per open handle: server, the mapping's user ("public" for a
 * PUBLIC mapping, as postgres_fdw shows it), whether the options it was
 * opened with are still current, and how many requests and connections it
 * made.
 */
Datum
cloud_fdw_get_connections(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS scan;
	CfConnection *entry;

	InitMaterializedSRF(fcinfo, 0);
	if (connection_cache == NULL)
		PG_RETURN_VOID();

	hash_seq_init(&scan, connection_cache);
	while ((entry = hash_seq_search(&scan)) != NULL)
	{
		Datum		values[5];
		bool		nulls[5] = {false};
		ForeignServer *server;
		const char *username;
		int64		requests;
		int64		connects;

		if (entry->handle == NULL)
			continue;
		server = GetForeignServerExtended(entry->serverid, FSV_MISSING_OK);
		if (server == NULL)
			nulls[0] = true;
		else
			values[0] = CStringGetTextDatum(server->servername);
		username = OidIsValid(entry->umuser) ? GetUserNameFromId(entry->umuser, true) : "public";
		if (username == NULL)
			nulls[1] = true;
		else
			values[1] = CStringGetTextDatum(username);
		values[2] = BoolGetDatum(!entry->invalidated);
		cf_http_counters(entry->handle, &requests, &connects);
		values[3] = Int64GetDatum(requests);
		values[4] = Int64GetDatum(connects);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(cloud_fdw_disconnect_all);

/* Close every cached handle; true if there was one to close. */
Datum
cloud_fdw_disconnect_all(PG_FUNCTION_ARGS)
{
	HASH_SEQ_STATUS scan;
	CfConnection *entry;
	bool		closed = false;

	if (connection_cache == NULL)
		PG_RETURN_BOOL(false);

	/* closing a handle would abandon writes on their way, their outcome unknown */
	hash_seq_init(&scan, connection_cache);
	while ((entry = hash_seq_search(&scan)) != NULL)
		if (entry->handle != NULL && cf_http_writes_in_flight(entry->handle))
		{
			hash_seq_term(&scan);
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("cannot disconnect while cloud API writes are on their way"),
					 errdetail("An UPDATE of this statement has update requests without an answer yet."),
					 errhint("Call cloud_fdw_disconnect_all() outside of an UPDATE.")));
		}

	hash_seq_init(&scan, connection_cache);
	while ((entry = hash_seq_search(&scan)) != NULL)
	{
		if (entry->handle != NULL)
			closed = true;
		close_handle(entry);
	}
	PG_RETURN_BOOL(closed);
}
