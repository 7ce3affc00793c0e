// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ShortStrings, ShortString} from "@openzeppelin/contracts/utils/ShortStrings.sol";
import {IERC5267} from "@openzeppelin/contracts/interfaces/IERC5267.sol";

/**
 * @title EIP712
 * @notice OpenZeppelin's EIP712 (v5.7.0, MIT), the same domain, cache and {IERC5267} view, without its
 * import of MessageHashUtils: that pulls in Strings and Bytes, whose `mcopy` needs the Cancun EVM, and the
 * contracts are compiled for Shanghai, the newest EVM the pinned Besu runs on QBFT (docs/consortium.md).
 * Unlike OpenZeppelin's, it keeps no deprecated fallback-string slots (no proxy depends on the layout).
 */
abstract contract EIP712 is IERC5267 {
    using ShortStrings for *;

    bytes32 private constant TYPE_HASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");

    // The domain separator cached as an immutable, with the chain id and address it was built for.
    bytes32 private immutable _cachedDomainSeparator;
    uint256 private immutable _cachedChainId;
    address private immutable _cachedThis;

    bytes32 private immutable _hashedName;
    bytes32 private immutable _hashedVersion;

    ShortString private immutable _name;
    ShortString private immutable _version;

    /// @param name The signing domain's name (at most 31 bytes). @param version Its version (at most 31 bytes).
    constructor(string memory name, string memory version) {
        _name = name.toShortString();
        _version = version.toShortString();
        _hashedName = keccak256(bytes(name));
        _hashedVersion = keccak256(bytes(version));

        _cachedChainId = block.chainid;
        _cachedDomainSeparator = _buildDomainSeparator();
        _cachedThis = address(this);
    }

    /// @dev The domain separator for the current chain.
    function _domainSeparatorV4() internal view returns (bytes32) {
        if (address(this) == _cachedThis && block.chainid == _cachedChainId) {
            return _cachedDomainSeparator;
        } else {
            return _buildDomainSeparator();
        }
    }

    function _buildDomainSeparator() private view returns (bytes32) {
        return keccak256(abi.encode(TYPE_HASH, _hashedName, _hashedVersion, block.chainid, address(this)));
    }

    /// @dev keccak256("\x19\x01" ‖ domainSeparator ‖ structHash), the EIP-712 digest of a hashed struct.
    function _hashTypedDataV4(bytes32 structHash) internal view returns (bytes32 digest) {
        bytes32 domainSeparator = _domainSeparatorV4();
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, hex"19_01")
            mstore(add(ptr, 0x02), domainSeparator)
            mstore(add(ptr, 0x22), structHash)
            digest := keccak256(ptr, 0x42)
        }
    }

    /// @inheritdoc IERC5267
    function eip712Domain()
        public
        view
        returns (
            bytes1 fields,
            string memory name,
            string memory version,
            uint256 chainId,
            address verifyingContract,
            bytes32 salt,
            uint256[] memory extensions
        )
    {
        return (
            hex"0f", // name, version, chainId, verifyingContract
            _name.toString(),
            _version.toString(),
            block.chainid,
            address(this),
            bytes32(0),
            new uint256[](0)
        );
    }
}
