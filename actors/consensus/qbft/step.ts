/** One input → one output: parse and route messages to their phase; ticks and the shell's proposals. */
import { emptyOutput, type CoreInput, type CoreOutput } from '../core.js';
import { LoggedBlock } from '../block-data.js';
import { addToBacklog } from './backlog.js';
import { handleCommit } from './commit.js';
import { QbftMessage, type RoundMessage } from './messages.js';
import { handlePrepare } from './prepare.js';
import { handleProposal, proposeBlock } from './pre-prepare.js';
import { handleRoundChange } from './round-change.js';
import { signerOf } from './signing.js';
import { refuse } from './state.js';
import { handleSyncRequest, handleSyncResponse, helpPeerBehind, requestSync } from './sync.js';
import { onTick } from './tick.js';
import { BACKLOG_HEIGHTS, type QbftState } from './types.js';
import { addressOf, isValidatorAt } from './validators.js';

export function step(state: QbftState, input: CoreInput): CoreOutput {
  const out = emptyOutput();
  switch (input.type) {
    case 'tick':
      onTick(state, out);
      break;
    case 'propose': {
      const block = LoggedBlock.safeParse(input.block);
      if (block.success) proposeBlock(state, out, block.data);
      break;
    }
    case 'message':
      handleMessage(state, out, input.from, input.message);
      break;
  }
  return out;
}

function handleMessage(state: QbftState, out: CoreOutput, from: string, raw: unknown): void {
  if (!state.addressById.has(from) || from === state.self) return refuse(out, from, 'not a participant');
  const parsed = QbftMessage.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return refuse(out, from, `malformed message: ${issue === undefined ? 'invalid' : `${issue.path.join('.')}: ${issue.message}`}`);
  }
  const message = parsed.data;
  switch (message.type) {
    case 'SYNC-REQUEST':
      return handleSyncRequest(state, out, from, message);
    case 'SYNC-RESPONSE':
      return handleSyncResponse(state, out, from, message);
    default:
      return handleRoundMessage(state, out, from, message);
  }
}

/** A consensus message of some height and round (also replayed from the backlog). */
export function handleRoundMessage(state: QbftState, out: CoreOutput, from: string, message: RoundMessage): void {
  if (message.height < state.height) {
    // A round change of a height we finalised: its sender missed the decision.
    if (message.type === 'ROUND-CHANGE') helpPeerBehind(state, out, from, message.height);
    return;
  }
  if (message.height > state.height) {
    if (message.height <= state.height + BACKLOG_HEIGHTS) addToBacklog(state, from, message);
    return requestSync(state, out, from);
  }
  if (message.type === 'PROPOSAL') return handleProposal(state, out, from, message);
  if (message.type === 'PREPARE' && message.round > state.round) return addToBacklog(state, from, message);
  const signer = signerOf(state.crypto, message);
  if (signer === null || signer !== addressOf(state, from)) return refuse(out, from, `${message.type}: bad signature`);
  if (!isValidatorAt(state, state.height, signer)) return refuse(out, from, `${message.type}: not a validator`);
  switch (message.type) {
    case 'PREPARE':
      return handlePrepare(state, out, from, signer, message);
    case 'COMMIT':
      return handleCommit(state, out, from, signer, message);
    case 'ROUND-CHANGE':
      return handleRoundChange(state, out, from, signer, message);
  }
}
