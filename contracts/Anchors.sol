// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IRegistry} from "./interfaces/IRegistry.sol";

/**
 * @title Anchors
 * @notice Merkle roots of batches of record commitments and audit events, posted by each member in an
 * unbroken sequence per kind. The cost of anchoring does not depend on the batch size.
 *
 * Storage is one slot per anchored root. The next sequence number is not stored: a sequence `s` is the next one
 * exactly when root `s - 1` exists and root `s` does not, since roots are non-zero and written in order. This
 * saves a counter write on every anchor.
 *
 * Leaves are hashed as keccak256(keccak256(abi.encode(leaf))) before entering the tree (OpenZeppelin's
 * double-hash against second pre-images); inner nodes use sorted-pair keccak256 (OpenZeppelin MerkleProof).
 */
contract Anchors {
    /// @notice What a batch contains.
    enum Kind {
        Records,
        Audit
    }

    IRegistry private immutable _registry;

    /// @dev keccak256(abi.encode(member, kind, sequence)) => root.
    mapping(bytes32 key => bytes32 root) private _roots;

    /// @notice `member` anchored `root` of `leafCount` leaves as number `sequence` of `kind`.
    event RootAnchored(
        address indexed member,
        uint8 indexed kind,
        uint64 indexed sequence,
        uint32 leafCount,
        bytes32 root
    );

    /// @notice Only active Registry members may anchor.
    error AnchorsNotMember(address account);

    /// @notice `given` is not the member's next sequence number for that kind (`expected`).
    error AnchorsSequenceMismatch(uint64 expected, uint64 given);

    /// @notice A batch needs at least one leaf and a non-zero root.
    error AnchorsEmptyBatch();

    /// @notice `kind` is not a {Kind}.
    error AnchorsInvalidKind(uint8 kind);

    /// @param registry Address of the registry ({IRegistry}) whose active members may anchor.
    constructor(address registry) {
        _registry = IRegistry(registry);
    }

    /**
     * @notice Anchors the Merkle `root` of the caller's next batch of `kind`.
     * @param kind 0 Records, 1 Audit.
     * @param sequence Must equal {nextSequence} for the caller and kind (starts at 0).
     * @param leafCount Number of leaves in the batch (> 0).
     * @param root Merkle root of the batch (non-zero).
     */
    function anchor(uint8 kind, uint64 sequence, uint32 leafCount, bytes32 root) external {
        if (kind > uint8(Kind.Audit)) revert AnchorsInvalidKind(kind);
        if (leafCount == 0 || root == bytes32(0)) revert AnchorsEmptyBatch();
        if (!_registry.isActiveMember(msg.sender)) revert AnchorsNotMember(msg.sender);
        bytes32 key = _key(msg.sender, kind, sequence);
        if (_roots[key] != bytes32(0) || (sequence != 0 && _roots[_key(msg.sender, kind, sequence - 1)] == bytes32(0))) {
            revert AnchorsSequenceMismatch(_nextSequence(msg.sender, kind), sequence);
        }
        _roots[key] = root;
        emit RootAnchored(msg.sender, kind, sequence, leafCount, root);
    }

    /// @notice The root `member` anchored as number `sequence` of `kind` (zero if none).
    function rootOf(address member, uint8 kind, uint64 sequence) external view returns (bytes32) {
        return _roots[_key(member, kind, sequence)];
    }

    /// @notice The sequence number `member`'s next anchor of `kind` must carry.
    function nextSequence(address member, uint8 kind) external view returns (uint64) {
        return _nextSequence(member, kind);
    }

    /**
     * @notice Whether `leaf` is in the batch `member` anchored as number `sequence` of `kind`.
     * @param leaf The 32-byte leaf value (hashed twice before use as a tree node).
     * @param proof Sibling nodes from the leaf's node up to the root.
     */
    function verifyInclusion(
        address member,
        uint8 kind,
        uint64 sequence,
        bytes32 leaf,
        bytes32[] calldata proof
    ) external view returns (bool) {
        bytes32 root = _roots[_key(member, kind, sequence)];
        if (root == bytes32(0)) return false;
        return MerkleProof.verifyCalldata(proof, root, keccak256(bytes.concat(keccak256(abi.encode(leaf)))));
    }

    function _key(address member, uint8 kind, uint64 sequence) private pure returns (bytes32) {
        return keccak256(abi.encode(member, kind, sequence));
    }

    /// @dev Roots occupy sequences 0 .. n-1 contiguously: find n by exponential then binary search.
    function _nextSequence(address member, uint8 kind) private view returns (uint64) {
        if (_roots[_key(member, kind, 0)] == bytes32(0)) return 0;
        uint64 low = 0; // known present
        uint64 high = 1; // candidate absent
        while (_roots[_key(member, kind, high)] != bytes32(0)) {
            low = high;
            high = high * 2;
        }
        while (high - low > 1) {
            uint64 mid = low + (high - low) / 2;
            if (_roots[_key(member, kind, mid)] != bytes32(0)) low = mid;
            else high = mid;
        }
        return high;
    }
}
