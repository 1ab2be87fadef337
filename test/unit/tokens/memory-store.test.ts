import { MemoryTokenStore } from '../../../src/index.js';
import { tokenStoreContract } from './store-contract.js';

tokenStoreContract('MemoryTokenStore', () => new MemoryTokenStore());
