/**
 * Contracts the e2e tests and the benchmark deploy, compiled once per process with solc-js
 * (standard JSON input, evmVersion cancun, optimizer on).
 */
import solc from 'solc';

export interface CompiledContract {
  abi: any[];
  /** 0x-prefixed creation bytecode. */
  bytecode: string;
}

const SOURCE = `// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;

contract SimpleStorage {
  uint public storedData;
  event Changed(uint value);
  constructor(uint initVal) { storedData = initVal; }
  function set(uint x) public { storedData = x; emit Changed(x); }
  function get() public view returns (uint) { return storedData; }
}

contract Reverter {
  uint public touched;
  function fail() public { touched = 1; require(false, "nope"); }
}
`;

let cache: Record<string, CompiledContract> | undefined;

function compileAll(): Record<string, CompiledContract> {
  if (cache) return cache;
  const input = {
    language: 'Solidity',
    sources: { 'Contracts.sol': { content: SOURCE } },
    settings: {
      evmVersion: 'cancun',
      optimizer: { enabled: true, runs: 200 },
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input))) as {
    errors?: { severity: string; formattedMessage: string }[];
    contracts: Record<string, Record<string, { abi: any[]; evm: { bytecode: { object: string } } }>>;
  };
  const errors = (output.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length > 0) throw new Error('solc failed:\n' + errors.map((e) => e.formattedMessage).join('\n'));
  const out: Record<string, CompiledContract> = {};
  for (const [name, c] of Object.entries(output.contracts['Contracts.sol'])) {
    out[name] = { abi: c.abi, bytecode: '0x' + c.evm.bytecode.object };
  }
  cache = out;
  return out;
}

export function compileSimpleStorage(): CompiledContract {
  return compileAll()['SimpleStorage'];
}

/** `fail()` sets a slot, then reverts with `require(false, "nope")`. */
export function compileReverter(): CompiledContract {
  return compileAll()['Reverter'];
}
