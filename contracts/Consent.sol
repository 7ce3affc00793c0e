// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "./utils/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IRegistry} from "./interfaces/IRegistry.sol";

/**
 * @title Consent
 * @notice Patient consent to share health data, signed off-chain by the patient (or a delegate the patient
 * appointed) as EIP-712 messages and relayed on chain by a member node. Also records emergency
 * ("break-glass") access opened by a member for one of its practitioners.
 *
 * Signatures are passed as EIP-2098 compact signatures (`r`, `vs`): two static words instead of a dynamic
 * `bytes`, which is cheaper to send and to decode on every relayed message.
 *
 * Only pseudonymous addresses, bitmasks, hashes and times are stored. Each (patient, grantee, custodian)
 * key occupies a single storage slot that packs the scope, the period and the replay nonce, which keeps a
 * first grant to one cold SSTORE. A custodian of address(0) means "any custodian".
 *
 * Purpose bits (HL7 PurposeOfUse): 0 TREAT, 1 ETREAT, 2 HPAYMT, 3 HOPERAT, 4 HRESCH, 5 PUBHLTH, 6 PATRQT,
 * 7 COVERAGE, 8 HDIRECT, 9 FAMRQT, 10 PWATRNY, 11 SUPNWK, 12 CAREMGT.
 */
contract Consent is EIP712 {
    bytes32 private constant _GRANT_TYPEHASH =
        keccak256(
            "Grant(address patient,address grantee,address custodian,uint64 resourceTypes,uint32 purposes,uint40 notBefore,uint40 expiry,uint32 nonce,uint256 deadline)"
        );
    bytes32 private constant _REVOKE_TYPEHASH =
        keccak256("Revoke(address patient,address grantee,address custodian,uint32 nonce,uint256 deadline)");
    bytes32 private constant _DELEGATE_TYPEHASH =
        keccak256("Delegate(address patient,address delegate,uint40 until,uint32 nonce,uint256 deadline)");

    /// @dev Index of the ETREAT (emergency treatment) purpose bit.
    uint8 private constant _PURPOSE_ETREAT = 1;
    uint32 private constant _MAX_EMERGENCY_DURATION = 24 hours;

    IRegistry private immutable _registry;

    /// @dev keccak256(abi.encode(patient, grantee, custodian)) => packed
    /// nonce (bits 0-31) | resourceTypes (32-95) | purposes (96-127) | notBefore (128-167) | expiry (168-207).
    mapping(bytes32 key => uint256) private _grants;
    /// @dev keccak256(abi.encode(patient, delegate)) => packed nonce (bits 0-31) | until (32-71).
    mapping(bytes32 key => uint256) private _delegates;
    /// @dev keccak256(abi.encode(patient, practitioner)) => emergency access expiry.
    mapping(bytes32 key => uint40) private _emergency;

    /// @notice A grant was created or replaced.
    event ConsentGranted(
        address indexed patient,
        address indexed grantee,
        address indexed custodian,
        uint64 resourceTypes,
        uint32 purposes,
        uint40 notBefore,
        uint40 expiry,
        uint32 nonce,
        address signer
    );

    /// @notice A grant was revoked; `nonce` is the nonce the revocation was signed with.
    event ConsentRevoked(
        address indexed patient,
        address indexed grantee,
        address indexed custodian,
        uint32 nonce,
        address signer
    );

    /// @notice The patient appointed `delegate` until `until` (0 = removed).
    event DelegateSet(address indexed patient, address indexed delegate, uint40 until);

    /// @notice `member` opened emergency access to `patient`'s data for `practitioner` until `expiresAt`.
    event EmergencyAccessOpened(
        address indexed patient,
        address indexed practitioner,
        address indexed member,
        bytes32 reasonHash,
        uint40 expiresAt
    );

    /// @notice The sender is not an active Registry member and may not relay.
    error ConsentNotRelayer(address account);

    /// @notice The recovered signer is not allowed to sign this message (also: replayed or altered message).
    error ConsentInvalidSignature(address signer);

    /// @notice The signed message's deadline has passed.
    error ConsentExpiredSignature(uint256 deadline);

    /// @notice The period is empty or already over.
    error ConsentInvalidPeriod(uint40 notBefore, uint40 expiry);

    /// @notice A grant must cover at least one resource type and one purpose.
    error ConsentEmptyScope();

    /// @notice There is no active grant to revoke.
    error ConsentNoGrant();

    /// @notice Emergency access duration must be between 1 second and 24 hours.
    error ConsentInvalidDuration(uint32 duration);

    /// @notice `practitioner` is not an active practitioner of the sending member.
    error ConsentNotPractitioner(address practitioner);

    /// @param registry Address of the registry ({IRegistry}) whose active members may relay.
    constructor(address registry) EIP712("medledger Consent", "1") {
        _registry = IRegistry(registry);
    }

    // ------------------------------------------------------------------ writes

    /**
     * @notice Stores a grant signed by the patient or an appointed delegate; replaces any grant for the key.
     * @param patient Patient's address.
     * @param grantee Practitioner or organisation address receiving access.
     * @param custodian Member holding the data, or address(0) for any custodian.
     * @param resourceTypes Bitmask of resource types (type(uint64).max = all).
     * @param purposes Bitmask of PurposeOfUse codes.
     * @param notBefore Start of the period (unix seconds).
     * @param expiry End of the period, exclusive (unix seconds).
     * @param deadline Last timestamp at which the signature may be relayed.
     * @param r `r` of the EIP-2098 compact EIP-712 signature over `Grant` with the key's current nonce.
     * @param vs `s` of that signature with the y-parity in its top bit (EIP-2098).
     */
    function grant(
        address patient,
        address grantee,
        address custodian,
        uint64 resourceTypes,
        uint32 purposes,
        uint40 notBefore,
        uint40 expiry,
        uint256 deadline,
        bytes32 r,
        bytes32 vs
    ) external {
        _checkRelayer(deadline);
        if (resourceTypes == 0 || purposes == 0) revert ConsentEmptyScope();
        if (expiry <= notBefore || expiry <= block.timestamp) revert ConsentInvalidPeriod(notBefore, expiry);
        // Hot path (gas target: first grant <= 60,000 total): hash in scratch memory instead of abi.encode.
        uint256 slot;
        uint256 packed;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, patient)
            mstore(add(ptr, 0x20), grantee)
            mstore(add(ptr, 0x40), custodian)
            mstore(0x00, keccak256(ptr, 0x60))
            mstore(0x20, _grants.slot)
            slot := keccak256(0x00, 0x40)
            packed := sload(slot)
        }
        uint32 nonce = uint32(packed);
        bytes32 structHash;
        bytes32 typehash = _GRANT_TYPEHASH;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, typehash)
            mstore(add(ptr, 0x20), patient)
            mstore(add(ptr, 0x40), grantee)
            mstore(add(ptr, 0x60), custodian)
            mstore(add(ptr, 0x80), resourceTypes)
            mstore(add(ptr, 0xa0), purposes)
            mstore(add(ptr, 0xc0), notBefore)
            mstore(add(ptr, 0xe0), expiry)
            mstore(add(ptr, 0x100), nonce)
            mstore(add(ptr, 0x120), deadline)
            structHash := keccak256(ptr, 0x140)
        }
        address signer = _checkSigner(patient, structHash, r, vs);
        packed =
            uint256(nonce + 1) |
            (uint256(resourceTypes) << 32) |
            (uint256(purposes) << 96) |
            (uint256(notBefore) << 128) |
            (uint256(expiry) << 168);
        bytes32 topic = ConsentGranted.selector;
        assembly ("memory-safe") {
            sstore(slot, packed)
            let ptr := mload(0x40)
            mstore(ptr, resourceTypes)
            mstore(add(ptr, 0x20), purposes)
            mstore(add(ptr, 0x40), notBefore)
            mstore(add(ptr, 0x60), expiry)
            mstore(add(ptr, 0x80), nonce)
            mstore(add(ptr, 0xa0), signer)
            log4(ptr, 0xc0, topic, patient, grantee, custodian)
        }
    }

    /**
     * @notice Revokes the grant for (patient, grantee, custodian); effective from the next block.
     * @param patient Patient's address.
     * @param grantee Grantee of the grant.
     * @param custodian Custodian of the grant (address(0) = the "any custodian" grant).
     * @param deadline Last timestamp at which the signature may be relayed.
     * @param r `r` of the EIP-2098 compact EIP-712 signature over `Revoke` with the key's current nonce.
     * @param vs `s` of that signature with the y-parity in its top bit (EIP-2098).
     */
    function revoke(
        address patient,
        address grantee,
        address custodian,
        uint256 deadline,
        bytes32 r,
        bytes32 vs
    ) external {
        _checkRelayer(deadline);
        bytes32 key = _grantKey(patient, grantee, custodian);
        uint256 packed = _grants[key];
        if (uint40(packed >> 168) == 0) revert ConsentNoGrant();
        uint32 nonce = uint32(packed);
        bytes32 structHash = keccak256(abi.encode(_REVOKE_TYPEHASH, patient, grantee, custodian, nonce, deadline));
        address signer = _checkSigner(patient, structHash, r, vs);
        // Keep the scope for the record, clear the expiry, bump the nonce.
        _grants[key] = (packed & ~(uint256(type(uint40).max) << 168) & ~uint256(type(uint32).max)) | (nonce + 1);
        emit ConsentRevoked(patient, grantee, custodian, nonce, signer);
    }

    /**
     * @notice Appoints (or with `until` = 0 removes) a delegate allowed to sign grants and revocations.
     * Only the patient may sign this.
     * @param patient Patient's address.
     * @param delegate Guardian or proxy address.
     * @param until Appointment end (unix seconds, exclusive); 0 removes the delegate.
     * @param deadline Last timestamp at which the signature may be relayed.
     * @param r `r` of the EIP-2098 compact EIP-712 signature over `Delegate` with the pair's current nonce.
     * @param vs `s` of that signature with the y-parity in its top bit (EIP-2098).
     */
    function setDelegate(
        address patient,
        address delegate,
        uint40 until,
        uint256 deadline,
        bytes32 r,
        bytes32 vs
    ) external {
        _checkRelayer(deadline);
        bytes32 key = keccak256(abi.encode(patient, delegate));
        uint32 nonce = uint32(_delegates[key]);
        bytes32 digest = _hashTypedDataV4(
            keccak256(abi.encode(_DELEGATE_TYPEHASH, patient, delegate, until, nonce, deadline))
        );
        (address signer, , ) = ECDSA.tryRecover(digest, r, vs);
        if (signer != patient || signer == address(0)) revert ConsentInvalidSignature(signer);
        _delegates[key] = uint256(nonce + 1) | (uint256(until) << 32);
        emit DelegateSet(patient, delegate, until);
    }

    /**
     * @notice Opens time-limited emergency access to `patient` for one of the caller's practitioners.
     * The access allows the ETREAT purpose only and lapses by itself.
     * @param patient Patient's address.
     * @param practitioner Active practitioner registered to the calling member.
     * @param reasonHash Hash of the documented reason (kept off chain).
     * @param duration Seconds, 1 .. 24 hours.
     */
    function openEmergencyAccess(address patient, address practitioner, bytes32 reasonHash, uint32 duration) external {
        if (duration == 0 || duration > _MAX_EMERGENCY_DURATION) revert ConsentInvalidDuration(duration);
        (address member, , bool active) = _registry.practitionerOf(practitioner);
        if (member != msg.sender || !active) revert ConsentNotPractitioner(practitioner);
        uint40 expiresAt = uint40(block.timestamp) + duration;
        _emergency[keccak256(abi.encode(patient, practitioner))] = expiresAt;
        emit EmergencyAccessOpened(patient, practitioner, msg.sender, reasonHash, expiresAt);
    }

    // ------------------------------------------------------------------- views

    /// @notice Nonce the next Grant or Revoke for this key must be signed with.
    function nonceOf(address patient, address grantee, address custodian) external view returns (uint32) {
        return uint32(_grants[_grantKey(patient, grantee, custodian)]);
    }

    /// @notice Nonce the next Delegate message for this pair must be signed with.
    function delegateNonceOf(address patient, address delegate) external view returns (uint32) {
        return uint32(_delegates[keccak256(abi.encode(patient, delegate))]);
    }

    /**
     * @notice The stored grant for a key (expiry 0 = none or revoked).
     * @return resourceTypes Resource type bitmask.
     * @return purposes PurposeOfUse bitmask.
     * @return notBefore Period start.
     * @return expiry Period end, exclusive; 0 if no active grant.
     * @return nonce Nonce the next message for this key must use.
     */
    function getGrant(
        address patient,
        address grantee,
        address custodian
    ) external view returns (uint64 resourceTypes, uint32 purposes, uint40 notBefore, uint40 expiry, uint32 nonce) {
        uint256 packed = _grants[_grantKey(patient, grantee, custodian)];
        return (
            uint64(packed >> 32),
            uint32(packed >> 96),
            uint40(packed >> 128),
            uint40(packed >> 168),
            uint32(packed)
        );
    }

    /// @notice Whether `delegate` is currently appointed by `patient`.
    function isDelegate(address patient, address delegate) public view returns (bool) {
        return uint40(_delegates[keccak256(abi.encode(patient, delegate))] >> 32) > block.timestamp;
    }

    /// @notice Until when (unix seconds, exclusive) `practitioner` has emergency access to `patient` (0 = never).
    function emergencyAccessUntil(address patient, address practitioner) external view returns (uint40) {
        return _emergency[keccak256(abi.encode(patient, practitioner))];
    }

    /**
     * @notice Whether `grantee` may now read resource type `resourceTypeIndex` of `patient` held by `custodian`
     * for purpose `purposeIndex`, by a custodian-specific or any-custodian grant, or by open emergency access
     * (ETREAT only).
     * @param resourceTypeIndex Bit index in the resource type bitmask (0..63).
     * @param purposeIndex Bit index in the PurposeOfUse bitmask (0..31).
     */
    function isAllowed(
        address patient,
        address grantee,
        address custodian,
        uint8 resourceTypeIndex,
        uint8 purposeIndex
    ) external view returns (bool) {
        if (resourceTypeIndex < 64 && purposeIndex < 32) {
            if (_covers(_grants[_grantKey(patient, grantee, custodian)], resourceTypeIndex, purposeIndex)) return true;
            if (
                custodian != address(0) &&
                _covers(_grants[_grantKey(patient, grantee, address(0))], resourceTypeIndex, purposeIndex)
            ) return true;
        }
        return
            purposeIndex == _PURPOSE_ETREAT &&
            _emergency[keccak256(abi.encode(patient, grantee))] > block.timestamp;
    }

    /// @notice The EIP-712 domain separator used for all signed messages.
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ---------------------------------------------------------------- internal

    function _grantKey(address patient, address grantee, address custodian) private pure returns (bytes32) {
        return keccak256(abi.encode(patient, grantee, custodian));
    }

    function _covers(uint256 packed, uint8 resourceTypeIndex, uint8 purposeIndex) private view returns (bool) {
        uint256 expiry = uint40(packed >> 168);
        uint256 notBefore = uint40(packed >> 128);
        return
            notBefore <= block.timestamp &&
            block.timestamp < expiry &&
            (packed >> (32 + resourceTypeIndex)) & 1 == 1 &&
            (packed >> (96 + purposeIndex)) & 1 == 1;
    }

    function _checkRelayer(uint256 deadline) private view {
        if (block.timestamp > deadline) revert ConsentExpiredSignature(deadline);
        // Low-level call: skips the EXTCODESIZE check and ABI helpers on the relaying hot path.
        IRegistry registry = _registry;
        bytes4 selector = IRegistry.isActiveMember.selector;
        bool active;
        assembly ("memory-safe") {
            mstore(0x00, selector)
            mstore(0x04, caller())
            let ok := staticcall(gas(), registry, 0x00, 0x24, 0x00, 0x20)
            active := and(ok, and(gt(returndatasize(), 0x1f), eq(mload(0x00), 1)))
        }
        if (!active) revert ConsentNotRelayer(msg.sender);
    }

    /// @dev Recovers the signer of `structHash` and accepts the patient or a currently appointed delegate.
    function _checkSigner(
        address patient,
        bytes32 structHash,
        bytes32 r,
        bytes32 vs
    ) private view returns (address signer) {
        // tryRecover rejects high-s (malleable) and unrecoverable signatures by returning address(0).
        (signer, , ) = ECDSA.tryRecover(_hashTypedDataV4(structHash), r, vs);
        if (signer == address(0) || (signer != patient && !isDelegate(patient, signer))) {
            revert ConsentInvalidSignature(signer);
        }
    }
}
