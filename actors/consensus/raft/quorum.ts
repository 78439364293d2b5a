/** Majority arithmetic over a set of voters (the configuration in effect). */

export function majorityOf(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/** The highest index that at least a majority of voters hold, given each voter's match index. */
export function indexHeldByMajority(matchIndexes: readonly number[]): number {
  const sorted = [...matchIndexes].sort((a, b) => b - a);
  return sorted[majorityOf(sorted.length) - 1];
}

/** Whether the granted answers already decide the vote, either way. Answers from non-voters do not count. */
export function tallyVotes(votes: ReadonlyMap<string, boolean>, voters: readonly string[]): 'won' | 'lost' | 'pending' {
  let granted = 0;
  let refused = 0;
  for (const voter of voters) {
    const answer = votes.get(voter);
    if (answer === true) granted++;
    else if (answer === false) refused++;
  }
  const needed = majorityOf(voters.length);
  if (granted >= needed) return 'won';
  if (refused > voters.length - needed) return 'lost';
  return 'pending';
}
