/**
 * A key-encryption key (KEK) wraps per-version data keys. The interface is all the vault needs,
 * so a KMS or HSM can stand in for the file-backed keys of {@link FileKeyring}.
 */
export interface KeyEncryptionKey {
  /** Stable id stored beside every wrapped key (`kek_id`). */
  readonly id: string;
  /** Encrypts a data key; `aad` binds it to the record version it protects. */
  wrap(dataKey: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
  /** Reverses {@link wrap}; throws DecryptionError when `wrapped` or `aad` was altered. */
  unwrap(wrapped: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
}

/** The set of KEKs a node holds: one current (for new writes), older ones until rotation retires them. */
export interface Keyring {
  /** The KEK new data keys are wrapped under. */
  current(): KeyEncryptionKey;
  /** A KEK by id, or undefined when this keyring does not hold it (never held, or retired). */
  get(id: string): Promise<KeyEncryptionKey | undefined>;
  /** Generates a new KEK and makes it current. */
  rotate(): Promise<KeyEncryptionKey>;
  /** Destroys a KEK that no wrapped key references any more. Never the current one. */
  retire(id: string): Promise<void>;
  /** Ids of every KEK held. */
  ids(): Promise<string[]>;
}
