/**
 * Which feature partition each symbol was last read from, so that after a rebalance the replica
 * can forget the history of symbols it no longer owns: another replica moves their windows on,
 * and a history kept here would only go stale (a rejoin reloads the checkpoint if they come back).
 * Transport-free: the consumer adapter reports records and assignments.
 */
export class SymbolOwnership {
  private readonly partitionOf = new Map<string, number>();

  seen(symbol: string, partition: number): void {
    this.partitionOf.set(symbol, partition);
  }

  /** The new assignment of the features topic; returns the symbols whose partition left this replica (and forgets them). */
  assigned(partitions: readonly number[]): string[] {
    const owned = new Set(partitions);
    const gone: string[] = [];
    for (const [symbol, p] of this.partitionOf) {
      if (owned.has(p)) continue;
      gone.push(symbol);
      this.partitionOf.delete(symbol);
    }
    return gone;
  }
}
