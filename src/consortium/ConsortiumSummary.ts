/** What `medledger consortium init` made, as written to `consortium.json` beside the member folders. */
import type { QbftTiming } from './besuGenesis.ts';
import type { ConsortiumMember } from './memberFolder.ts';

export interface ConsortiumSummary {
  chainId: number;
  consensus: 'qbft';
  outDir: string;
  /** The member that deploys the contracts (`medledger chain deploy`) and is their first Registry member. */
  deployer: number;
  timing: QbftTiming;
  members: ConsortiumMember[];
}
