/** Majority arithmetic over a fixed set of voters. */

export function majorityOf(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/** The highest index that at least a majority of voters hold, given each voter's match index. */
export function indexHeldByMajority(matchIndexes: readonly number[]): number {
  const sorted = [...matchIndexes].sort((a, b) => b - a);
  return sorted[majorityOf(sorted.length) - 1];
}

/** Whether the granted answers already decide the vote, either way. */
export function tallyVotes(votes: ReadonlyMap<string, boolean>, voterCount: number): 'won' | 'lost' | 'pending' {
  let granted = 0;
  let refused = 0;
  for (const answer of votes.values()) {
    if (answer) granted++;
    else refused++;
  }
  const needed = majorityOf(voterCount);
  if (granted >= needed) return 'won';
  if (refused > voterCount - needed) return 'lost';
  return 'pending';
}
