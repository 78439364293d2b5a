/**
 * A database that is away is Unavailable (JSON-RPC -32000 'temporarily unavailable, retry'), never Internal
 * (-32603); every other database error stays what it was.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import postgres from 'postgres';
import { CodedError, ErrorCode, asCodedError } from '../../lib/errors.js';
import { isDatabaseUnavailable } from '../../lib/event-store/postgres-errors.js';
import { RpcCode, toRpcError } from '../../actors/gateway/rpc/errors.js';
import { freePort } from '../../cli/ports.js';

const withCode = (code: string, message = `error ${code}`) => Object.assign(new Error(message), { code });
const serverError = (code: string, message: string) => new postgres.PostgresError({ code, message, severity: 'FATAL' } as never);

describe('isDatabaseUnavailable', () => {
  it('recognises socket errors, the client’s connection errors and the server’s shutdown / startup states', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']) {
      assert.equal(isDatabaseUnavailable(withCode(code)), true, code);
    }
    for (const code of ['CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT']) {
      assert.equal(isDatabaseUnavailable(withCode(code, `write ${code} 127.0.0.1:5432`)), true, code);
    }
    assert.equal(isDatabaseUnavailable(serverError('57P01', 'terminating connection due to administrator command')), true);
    assert.equal(isDatabaseUnavailable(serverError('57P02', 'terminating connection because of crash of another server process')), true);
    assert.equal(isDatabaseUnavailable(serverError('57P03', 'the database system is starting up')), true);
    assert.equal(isDatabaseUnavailable(serverError('53300', 'sorry, too many clients already')), true);
    assert.equal(isDatabaseUnavailable(serverError('08006', 'connection failure')), true);
    assert.equal(isDatabaseUnavailable(serverError('08P01', 'protocol violation')), true);
  });

  it('looks through the cause chain (a wrapped connection failure)', () => {
    const wrapped = new Error('fetch failed', { cause: new Error('outer', { cause: withCode('ECONNREFUSED') }) });
    assert.equal(isDatabaseUnavailable(wrapped), true);
  });

  it('leaves request and program errors alone', () => {
    assert.equal(isDatabaseUnavailable(serverError('23505', 'duplicate key value violates unique constraint')), false);
    assert.equal(isDatabaseUnavailable(serverError('42P01', 'relation "events" does not exist')), false);
    assert.equal(isDatabaseUnavailable(serverError('40001', 'could not serialize access')), false);
    assert.equal(isDatabaseUnavailable(serverError('28P01', 'password authentication failed')), false);
    assert.equal(isDatabaseUnavailable(withCode('ERR_INVALID_ARG_TYPE')), false);
    assert.equal(isDatabaseUnavailable(new TypeError('x is undefined')), false);
    assert.equal(isDatabaseUnavailable('ECONNREFUSED'), false);
    assert.equal(isDatabaseUnavailable(null), false);
    assert.equal(isDatabaseUnavailable({ code: 8006 }), false);
  });

  it('recognises what the postgres client really throws when nothing listens', async () => {
    const sql = postgres(`postgres://postgres@127.0.0.1:${await freePort()}/postgres`, { max: 1, connect_timeout: 5, onnotice: () => {} });
    try {
      const err = await sql`select 1`.then(
        () => assert.fail('a query to a closed port succeeded'),
        (e: unknown) => e,
      );
      assert.equal(isDatabaseUnavailable(err), true, `not recognised: ${String((err as Error).message)} (code ${(err as { code?: string }).code})`);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });
});

describe('a database outage at the edges', () => {
  it('asCodedError makes it Unavailable, and it stays Unavailable across the wire', () => {
    const coded = asCodedError(withCode('CONNECTION_CLOSED', 'write CONNECTION_CLOSED 127.0.0.1:5432'));
    assert.equal(coded.code, ErrorCode.Unavailable);
    assert.match(coded.message, /database unavailable/);
    assert.equal(CodedError.fromWire(coded.toWire()).code, ErrorCode.Unavailable);
  });

  it('any other unknown error is still Internal, and a CodedError is kept as it is', () => {
    assert.equal(asCodedError(serverError('23505', 'duplicate key')).code, ErrorCode.Internal);
    assert.equal(asCodedError(new Error('boom')).code, ErrorCode.Internal);
    const conflict = new CodedError(ErrorCode.Conflict, 'stream at 3', undefined, { cause: withCode('ECONNRESET') });
    assert.equal(asCodedError(conflict), conflict);
  });

  it('the gateway answers -32000 "temporarily unavailable, retry", never -32603', () => {
    const { error, internal } = toRpcError(CodedError.fromWire(asCodedError(serverError('57P01', 'terminating connection')).toWire()));
    assert.equal(error.code, RpcCode.Server);
    assert.equal(error.message, 'temporarily unavailable, retry');
    assert.equal(internal, true, 'the cause is logged by the gateway');
    assert.equal(toRpcError(asCodedError(new Error('boom'))).error.code, RpcCode.Internal);
  });
});
