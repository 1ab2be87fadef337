// memorySessionStorage keeps the family's contract (the reference the database members are held to).
import { memorySessionStorage } from '../../../../src/http/session/storage.js';
import { sessionStorageContract } from './storage-contract.js';

sessionStorageContract('memorySessionStorage', () => memorySessionStorage(), { persistent: false });
