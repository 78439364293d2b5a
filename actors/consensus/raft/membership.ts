/**
 * Membership changes, one server at a time (Raft thesis §4.1). The configuration in effect on a node is the
 * latest config entry in its log, committed or not, on top of the initial configuration; so a node adopts a
 * change as soon as it appends the entry and drops it again if the entry is truncated. With at most one
 * uncommitted change, any majority of the old voters overlaps any majority of the new ones, which is what keeps
 * two leaders out of one term while configurations differ between nodes.
 *
 * Learners replicate and apply but are counted in no quorum. Nodes process requests (AppendEntries,
 * RequestVote) whatever their own configuration says (§4.1): a node that has not yet received the entry adding
 * a new leader must still follow it, and vote for it if its log is more up to date.
 */
import type { ConfigChange, Entry, Snapshot } from './messages.js';
import type { RaftLog } from './log.js';
import type { Configuration, ResolvedRaftConfig } from './types.js';

export function initialConfiguration(config: ResolvedRaftConfig): Configuration {
  return { index: 0, voters: config.peers, learners: config.learners };
}

/** The configuration a snapshot records (sorted, as every configuration here). */
export function snapshotConfiguration(snapshot: Snapshot): Configuration {
  return { index: snapshot.config.index, voters: [...snapshot.config.voters].sort(), learners: [...snapshot.config.learners].sort() };
}

/** The configurations of a log compacted up to `index`: those before it collapse into the one in effect there. */
export function compactedConfigs(configs: readonly Configuration[], index: number): readonly Configuration[] {
  let base = 0;
  while (base + 1 < configs.length && configs[base + 1].index <= index) base++;
  return base === 0 ? configs : configs.slice(base);
}

/**
 * The configuration after `change`. Total and idempotent, so that every node derives the same membership from
 * the same log whatever it holds; the leader checks a change makes sense before proposing it (`refuseChange`).
 */
export function applyChange(config: Configuration, change: ConfigChange, index: number): Configuration {
  const voters = config.voters.filter((id) => id !== change.id);
  const learners = config.learners.filter((id) => id !== change.id);
  if (change.type === 'addLearner') learners.push(change.id);
  else if (change.type === 'addVoter' || change.type === 'promote') voters.push(change.id);
  return { index, voters: voters.sort(), learners: learners.sort() };
}

/** `configs` extended by the config entries among `entries` (appended in index order). */
export function withEntries(configs: readonly Configuration[], entries: readonly Entry[]): readonly Configuration[] {
  let result = configs;
  for (const entry of entries) {
    if (entry.data.kind !== 'config') continue;
    if (result === configs) result = configs.slice();
    (result as Configuration[]).push(applyChange(result[result.length - 1], entry.data.change, entry.index));
  }
  return result;
}

/** All configurations of a whole log (at startup): O(log length) once. */
export function configsOfLog(initial: Configuration, log: RaftLog): readonly Configuration[] {
  return withEntries([initial], log.entries.slice(0, log.length));
}

/** `configs` after the log lost the entries from `from` on: the configurations they brought are undone. */
export function truncatedConfigs(configs: readonly Configuration[], from: number): readonly Configuration[] {
  if (configs[configs.length - 1].index < from) return configs;
  return configs.filter((config) => config.index < from);
}

export function currentConfig(configs: readonly Configuration[]): Configuration {
  return configs[configs.length - 1];
}

export function isVoterIn(config: Configuration, id: string): boolean {
  return config.voters.includes(id);
}

export function isMemberOf(config: Configuration, id: string): boolean {
  return config.voters.includes(id) || config.learners.includes(id);
}

/** Why the leader refuses to propose `change` on top of `config`, or null if it makes sense. */
export function refuseChange(config: Configuration, change: ConfigChange): string | null {
  const { id } = change;
  const voter = config.voters.includes(id);
  const learner = config.learners.includes(id);
  switch (change.type) {
    case 'addLearner':
      return voter || learner ? `${id} is already a ${voter ? 'voter' : 'learner'}` : null;
    case 'addVoter':
      return voter ? `${id} is already a voter` : learner ? `${id} is a learner: promote it` : null;
    case 'promote':
      return learner ? null : `${id} is not a learner`;
    case 'remove':
      if (!voter && !learner) return `${id} is not a member`;
      return voter && config.voters.length === 1 ? `${id} is the last voter` : null;
  }
}
