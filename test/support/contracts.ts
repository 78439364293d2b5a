/**
 * Test contracts compiled in-process with solc-js (dev dependency), for unit, e2e and benchmark code.
 * Results are cached per process (loading and running the compiler takes a second or two).
 *
 * evmVersion is pinned to the executor's hardfork (SOLC_EVM_VERSION = 'cancun').
 */
import { createRequire } from 'node:module';
import { SOLC_EVM_VERSION } from '../../lib/ethereum/chain.js';

export interface CompiledContract {
  /** the ABI (JSON array, as solc outputs it; usable with ethers `new ContractFactory(abi, bytecode)`) */
  abi: unknown[];
  /** creation bytecode, 0x-hex (constructor arguments not included) */
  bytecode: string;
  /** runtime bytecode, 0x-hex */
  deployedBytecode: string;
}

const SIMPLE_STORAGE_SOURCE = `// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;

contract SimpleStorage {
    uint storedData;

    event Changed(uint);

    constructor(uint initVal) {
        storedData = initVal;
    }

    function set(uint x) public {
        storedData = x;
        emit Changed(x);
    }

    function get() public view returns (uint) {
        return storedData;
    }
}
`;

const REVERTER_SOURCE = `// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;

contract Reverter {
    uint public value;

    function setPositive(uint v) public {
        require(v > 0, "value must be positive");
        value = v;
    }

    function alwaysRevert() public pure {
        revert("always reverts");
    }
}
`;

type SolcOutput = {
  errors?: { severity: string; formattedMessage: string }[];
  contracts?: Record<string, Record<string, { abi: unknown[]; evm: { bytecode: { object: string }; deployedBytecode: { object: string } } }>>;
};

let solcInstance: { compile(input: string): string } | null = null;
function solc(): { compile(input: string): string } {
  if (!solcInstance) {
    const require = createRequire(import.meta.url);
    solcInstance = require('solc') as { compile(input: string): string };
  }
  return solcInstance;
}

const cache = new Map<string, Record<string, CompiledContract>>();

/** Compile Solidity sources ({ fileName: source }); returns contracts by name. Throws on compile errors. */
export function compileSolidity(sources: Record<string, string>, opts: { optimize?: boolean } = {}): Record<string, CompiledContract> {
  const cacheKey = JSON.stringify([sources, opts.optimize ?? false]);
  const hit = cache.get(cacheKey);
  if (hit) return hit;
  const input = {
    language: 'Solidity',
    sources: Object.fromEntries(Object.entries(sources).map(([name, content]) => [name, { content }])),
    settings: {
      evmVersion: SOLC_EVM_VERSION,
      optimizer: { enabled: opts.optimize ?? false, runs: 200 },
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
    },
  };
  const output = JSON.parse(solc().compile(JSON.stringify(input))) as SolcOutput;
  const errors = (output.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length > 0) throw new Error('solc: ' + errors.map((e) => e.formattedMessage).join('\n'));
  const out: Record<string, CompiledContract> = {};
  for (const file of Object.values(output.contracts ?? {})) {
    for (const [name, c] of Object.entries(file)) {
      out[name] = { abi: c.abi, bytecode: '0x' + c.evm.bytecode.object, deployedBytecode: '0x' + c.evm.deployedBytecode.object };
    }
  }
  cache.set(cacheKey, out);
  return out;
}

/** SimpleStorage: `uint storedData; event Changed(uint); constructor(uint initVal); set(uint); get() returns (uint)`. */
export function compileSimpleStorage(): CompiledContract {
  return compileSolidity({ 'SimpleStorage.sol': SIMPLE_STORAGE_SOURCE }).SimpleStorage;
}

/** Reverter: `setPositive(uint)` requires v > 0 ("value must be positive"); `alwaysRevert()` reverts "always reverts". */
export function compileReverter(): CompiledContract {
  return compileSolidity({ 'Reverter.sol': REVERTER_SOURCE }).Reverter;
}
