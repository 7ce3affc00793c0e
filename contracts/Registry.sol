// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IRegistry} from "./interfaces/IRegistry.sol";

/**
 * @title Registry
 * @notice Membership of the medledger network: the institutions (members) that run nodes, how to reach them,
 * and the practitioners each member vouches for. Members are admitted and removed by a strict majority vote of
 * the currently active members. A member is identified by its node signing address.
 */
contract Registry is IRegistry {
    /// @notice Public details of a member institution.
    struct Member {
        string name;
        bytes encryptionKey;
        string endpoint;
        uint64 admittedAt;
        bool active;
    }

    /// @notice What a governance proposal would do to its subject.
    enum ProposalKind {
        Admit,
        Remove
    }

    struct Proposal {
        ProposalKind kind;
        address subject;
        uint32 votes;
        bool executed;
        string name;
        bytes encryptionKey;
        string endpoint;
    }

    struct Practitioner {
        address member;
        bool active;
        bytes32 role;
    }

    mapping(address member => Member) private _members;
    address[] private _memberList;
    uint256 private _activeMemberCount;

    Proposal[] private _proposals;
    mapping(uint256 proposalId => mapping(address voter => bool)) private _voted;

    mapping(address practitioner => Practitioner) private _practitioners;

    /// @notice A proposal was created; the proposer's vote is counted with it.
    event ProposalCreated(
        uint256 indexed proposalId,
        ProposalKind kind,
        address indexed subject,
        address indexed proposer
    );

    /// @notice An active member voted for a proposal.
    event ProposalVoted(uint256 indexed proposalId, address indexed voter);

    /// @notice A member became active (at deployment or by an executed Admit proposal).
    event MemberAdmitted(address indexed member, string name, string endpoint);

    /// @notice A member was deactivated by an executed Remove proposal.
    event MemberRemoved(address indexed member);

    /// @notice A member changed its own encryption key and/or endpoint.
    event MemberUpdated(address indexed member, string endpoint);

    /// @notice A member registered (or re-registered) a practitioner under itself.
    event PractitionerRegistered(address indexed practitioner, address indexed member, bytes32 role);

    /// @notice A member deactivated one of its practitioners.
    event PractitionerDeactivated(address indexed practitioner, address indexed member);

    /// @notice `account` is not an active member (or, for a Remove proposal, the subject is not one).
    error RegistryNotMember(address account);

    /// @notice `voter` has already voted for `proposalId`.
    error RegistryAlreadyVoted(uint256 proposalId, address voter);

    /// @notice `proposalId` has already been executed.
    error RegistryProposalClosed(uint256 proposalId);

    /// @notice `account` is already an active member and cannot be admitted again.
    error RegistryAlreadyMember(address account);

    /// @notice No proposal has the id `proposalId`.
    error RegistryUnknownProposal(uint256 proposalId);

    /// @notice The caller is not the member `practitioner` is registered to.
    error RegistryNotPractitionerOwner(address practitioner);

    modifier onlyActiveMember() {
        if (!_members[msg.sender].active) revert RegistryNotMember(msg.sender);
        _;
    }

    /**
     * @param firstMember Node signing address of the founding member, active from deployment.
     * @param name Human-readable institution name of the founding member.
     * @param encryptionKey Public encryption key of the founding member's node.
     * @param endpoint URL of the founding member's node.
     */
    constructor(address firstMember, string memory name, bytes memory encryptionKey, string memory endpoint) {
        _admit(firstMember, name, encryptionKey, endpoint);
    }

    // ------------------------------------------------------------------ members

    /// @notice Details of `member` (all fields zero if it was never admitted).
    function getMember(address member) external view returns (Member memory) {
        return _members[member];
    }

    /// @notice Whether `account` is currently an active member.
    function isActiveMember(address account) external view returns (bool) {
        return _members[account].active;
    }

    /// @notice Number of currently active members.
    function activeMemberCount() external view returns (uint256) {
        return _activeMemberCount;
    }

    /// @notice Every address ever admitted, active or not, in order of first admission.
    function members() external view returns (address[] memory) {
        return _memberList;
    }

    /**
     * @notice Lets an active member change its own encryption key and endpoint.
     * @param encryptionKey New public encryption key of the caller's node.
     * @param endpoint New URL of the caller's node.
     */
    function updateMember(bytes calldata encryptionKey, string calldata endpoint) external onlyActiveMember {
        Member storage m = _members[msg.sender];
        m.encryptionKey = encryptionKey;
        m.endpoint = endpoint;
        emit MemberUpdated(msg.sender, endpoint);
    }

    // --------------------------------------------------------------- governance

    /**
     * @notice Proposes to admit or remove `subject`. The proposer's vote counts at once, so the proposal may
     * execute in this call.
     * @param kind Admit or Remove.
     * @param subject Node signing address of the institution concerned.
     * @param name Institution name (Admit only; ignored for Remove).
     * @param encryptionKey Node public encryption key (Admit only).
     * @param endpoint Node URL (Admit only).
     * @return proposalId Id of the new proposal.
     */
    function propose(
        ProposalKind kind,
        address subject,
        string calldata name,
        bytes calldata encryptionKey,
        string calldata endpoint
    ) external onlyActiveMember returns (uint256 proposalId) {
        _checkSubject(kind, subject);
        proposalId = _proposals.length;
        Proposal storage p = _proposals.push();
        p.kind = kind;
        p.subject = subject;
        if (kind == ProposalKind.Admit) {
            p.name = name;
            p.encryptionKey = encryptionKey;
            p.endpoint = endpoint;
        }
        emit ProposalCreated(proposalId, kind, subject, msg.sender);
        _vote(proposalId, p);
    }

    /**
     * @notice Votes for `proposalId`; executes it when votes exceed half of the active members.
     * @param proposalId Id returned by {propose}.
     */
    function vote(uint256 proposalId) external onlyActiveMember {
        if (proposalId >= _proposals.length) revert RegistryUnknownProposal(proposalId);
        Proposal storage p = _proposals[proposalId];
        if (p.executed) revert RegistryProposalClosed(proposalId);
        _vote(proposalId, p);
    }

    /**
     * @notice State of a proposal.
     * @return kind Admit or Remove.
     * @return subject The institution concerned.
     * @return votes Number of votes so far.
     * @return executed Whether it has been carried out.
     */
    function getProposal(
        uint256 proposalId
    ) external view returns (ProposalKind kind, address subject, uint32 votes, bool executed) {
        if (proposalId >= _proposals.length) revert RegistryUnknownProposal(proposalId);
        Proposal storage p = _proposals[proposalId];
        return (p.kind, p.subject, p.votes, p.executed);
    }

    /// @notice Whether `voter` has voted for `proposalId`.
    function hasVoted(uint256 proposalId, address voter) external view returns (bool) {
        return _voted[proposalId][voter];
    }

    /// @notice Number of proposals ever created (ids are 0 .. count-1).
    function proposalCount() external view returns (uint256) {
        return _proposals.length;
    }

    // ------------------------------------------------------------ practitioners

    /**
     * @notice Registers `practitioner` (a clinician's signing address) under the calling member.
     * Re-registering one of the caller's own practitioners updates its role and reactivates it.
     * @param practitioner Address the practitioner signs with.
     * @param role Hash or code of the practitioner's role (no personal data).
     */
    function registerPractitioner(address practitioner, bytes32 role) external onlyActiveMember {
        Practitioner storage p = _practitioners[practitioner];
        if (p.member != address(0) && p.member != msg.sender) revert RegistryNotPractitionerOwner(practitioner);
        p.member = msg.sender;
        p.active = true;
        p.role = role;
        emit PractitionerRegistered(practitioner, msg.sender, role);
    }

    /**
     * @notice Deactivates one of the caller's practitioners.
     * @param practitioner Address of the practitioner to deactivate.
     */
    function deactivatePractitioner(address practitioner) external {
        Practitioner storage p = _practitioners[practitioner];
        if (p.member != msg.sender || msg.sender == address(0)) revert RegistryNotPractitionerOwner(practitioner);
        p.active = false;
        emit PractitionerDeactivated(practitioner, msg.sender);
    }

    /**
     * @notice The member a practitioner belongs to, its role, and whether it may act now.
     * @return member The member that registered it (zero if never registered).
     * @return role Its role.
     * @return active False if deactivated or if its member is no longer active.
     */
    function practitionerOf(address practitioner) external view returns (address member, bytes32 role, bool active) {
        Practitioner storage p = _practitioners[practitioner];
        member = p.member;
        role = p.role;
        active = p.active && _members[member].active;
    }

    // ----------------------------------------------------------------- internal

    function _checkSubject(ProposalKind kind, address subject) private view {
        bool isActive = _members[subject].active;
        if (kind == ProposalKind.Admit) {
            if (isActive) revert RegistryAlreadyMember(subject);
        } else if (!isActive) {
            revert RegistryNotMember(subject);
        }
    }

    function _vote(uint256 proposalId, Proposal storage p) private {
        if (_voted[proposalId][msg.sender]) revert RegistryAlreadyVoted(proposalId, msg.sender);
        _voted[proposalId][msg.sender] = true;
        uint32 votes = p.votes + 1;
        p.votes = votes;
        emit ProposalVoted(proposalId, msg.sender);
        if (uint256(votes) * 2 > _activeMemberCount) _execute(p);
    }

    function _execute(Proposal storage p) private {
        _checkSubject(p.kind, p.subject);
        p.executed = true;
        if (p.kind == ProposalKind.Admit) {
            _admit(p.subject, p.name, p.encryptionKey, p.endpoint);
        } else {
            _members[p.subject].active = false;
            _activeMemberCount -= 1;
            emit MemberRemoved(p.subject);
        }
    }

    function _admit(address account, string memory name, bytes memory encryptionKey, string memory endpoint) private {
        Member storage m = _members[account];
        if (m.admittedAt == 0) _memberList.push(account);
        m.name = name;
        m.encryptionKey = encryptionKey;
        m.endpoint = endpoint;
        m.admittedAt = uint64(block.timestamp);
        m.active = true;
        _activeMemberCount += 1;
        emit MemberAdmitted(account, name, endpoint);
    }
}
